"""API keys of the caller's tenant. The key itself is returned once, by POST; only its hash is stored."""

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from maestro_api.api.deps import Authorize, CurrentPrincipal, SessionDep, SettingsDep
from maestro_api.core.audit import record_audit
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import can_grant
from maestro_api.crud import create_api_key, not_found
from maestro_api.models import ApiKey
from maestro_api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.get("", dependencies=[Authorize("api_keys:read")])
async def list_keys(session: SessionDep) -> list[ApiKeyPublic]:
    rows = await session.scalars(select(ApiKey).order_by(ApiKey.created_at).limit(1000))
    return [ApiKeyPublic.model_validate(k) for k in rows]


@router.post("", status_code=201, dependencies=[Authorize("api_keys:create")])
async def create(
    body: ApiKeyCreate, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep, request: Request
) -> ApiKeyCreated:
    if not can_grant(principal.role, body.role):
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} cannot create {body.role!r} keys.")
    if body.expires_at is not None and body.expires_at.astimezone(UTC) <= datetime.now(UTC):
        raise ProblemError(422, "Unprocessable Content", "expires_at must be in the future.")
    row, new = await create_api_key(
        session,
        tenant_id=principal.tenant_id,
        name=body.name,
        role=body.role,
        created_by=principal.actor,
        pepper=settings.api_key_pepper.get_secret_value(),
        expires_at=body.expires_at,
    )
    await record_audit(
        session,
        principal=principal,
        action="api_keys:create",
        target=f"api_key:{row.id}",
        outcome="success",
        request=request,
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=new.plaintext)


@router.get("/{key_id}", dependencies=[Authorize("api_keys:read")])
async def read(key_id: uuid.UUID, session: SessionDep) -> ApiKeyPublic:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise not_found("API key")
    return ApiKeyPublic.model_validate(row)


@router.delete("/{key_id}", status_code=204, dependencies=[Authorize("api_keys:revoke")])
async def revoke(key_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request) -> Response:
    """Revoke a key. Other processes stop accepting it within MAESTRO_AUTH_CACHE_TTL_SECONDS."""
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise not_found("API key")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    await record_audit(
        session,
        principal=principal,
        action="api_keys:revoke",
        target=f"api_key:{key_id}",
        outcome="success",
        request=request,
    )
    request.app.state.authenticator.invalidate()
    return Response(status_code=204)
