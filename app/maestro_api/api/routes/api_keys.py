"""API keys of the caller's tenant. The key itself is returned once, by POST; only its hash is stored.

Every key made here acts for a user of the tenant's directory (``user_id``): the caller's own by default, or
another one a tenant admin names. The key follows that user: refused while the user is disabled, its role capped
at the user's current role, deleted with the user. Only ``maestro-api bootstrap`` makes keys without a user.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from maestro_api.api.deps import Audited, Authorize, Mutation, SessionDep, SettingsDep
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import can_grant
from maestro_api.crud import create_api_key, get_or_404
from maestro_api.models import ApiKey, User
from maestro_api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.get("", dependencies=[Authorize("api_keys:read")])
async def list_keys(session: SessionDep) -> list[ApiKeyPublic]:
    rows = await session.scalars(select(ApiKey).order_by(ApiKey.created_at).limit(1000))
    return [ApiKeyPublic.model_validate(k) for k in rows]


@router.post("", status_code=201)
async def create(
    body: ApiKeyCreate, change: Annotated[Mutation, Audited("api_keys:create")], settings: SettingsDep
) -> ApiKeyCreated:
    principal = change.principal
    if not can_grant(principal.role, body.role):
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} cannot create {body.role!r} keys.")
    if body.expires_at is not None and body.expires_at.astimezone(UTC) <= datetime.now(UTC):
        raise ProblemError(422, "Unprocessable Content", "expires_at must be in the future.")
    user_id = body.user_id or principal.user_id
    if user_id is None:
        raise ProblemError(
            422,
            "Unprocessable Content",
            "Name the key's user (user_id): the caller acts for no user of the tenant's directory.",
        )
    user = await get_or_404(change.session, User, user_id, kind="user")
    if user.disabled:
        raise ProblemError(409, "Conflict", "The user is disabled.")
    if not can_grant(user.role, body.role):
        raise ProblemError(403, "Forbidden", f"A key cannot hold more than its user's role ({user.role!r}).")
    row, new = await create_api_key(
        change.session,
        tenant_id=principal.tenant_id,
        name=body.name,
        role=body.role,
        created_by=principal.actor,
        pepper=settings.api_key_pepper.get_secret_value(),
        user_id=user.id,
        expires_at=body.expires_at,
    )
    change.target = f"api_key:{row.id}"
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=new.plaintext)


@router.get("/{key_id}", dependencies=[Authorize("api_keys:read")])
async def read(key_id: uuid.UUID, session: SessionDep) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(await get_or_404(session, ApiKey, key_id, kind="API key"))


@router.delete("/{key_id}", status_code=204)
async def revoke(
    key_id: uuid.UUID, change: Annotated[Mutation, Audited("api_keys:revoke")], request: Request
) -> Response:
    """Revoke a key. Other processes stop accepting it within MAESTRO_AUTH_CACHE_TTL_SECONDS."""
    row = await get_or_404(change.session, ApiKey, key_id, kind="API key")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    change.target = f"api_key:{key_id}"
    request.app.state.authenticator.invalidate()
    return Response(status_code=204)
