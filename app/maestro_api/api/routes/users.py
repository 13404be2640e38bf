"""Users of the caller's tenant: its directory. An OIDC subject with an entry here (``subject``) and every API key
bound to a user follow the entry: disabled, they are refused; demoted, they are capped at the new role (within
MAESTRO_AUTH_CACHE_TTL_SECONDS in other processes, at once in this one). Removing a user deletes the user's keys.
Nobody changes, disables or removes a user above their own role."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from maestro_api.api.deps import Audited, Authorize, Mutation, SessionDep
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import can_grant
from maestro_api.crud import apply_update, get_or_404, lock_quota, quota_exceeded
from maestro_api.models import User
from maestro_api.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", dependencies=[Authorize("users:read")])
async def list_users(session: SessionDep) -> list[UserPublic]:
    rows = await session.scalars(select(User).order_by(User.email).limit(1000))
    return [UserPublic.model_validate(u) for u in rows]


@router.post("", status_code=201)
async def invite(body: UserCreate, change: Annotated[Mutation, Audited("users:invite")]) -> UserPublic:
    principal, session = change.principal, change.session
    if not can_grant(principal.role, body.role):
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} cannot grant {body.role!r}.")
    quota = await lock_quota(session, principal.tenant_id)
    count = await session.scalar(select(func.count()).select_from(User))
    if quota is not None and (count or 0) >= quota.max_users:
        raise quota_exceeded("max_users", quota.max_users)
    user = User(
        id=uuid.uuid4(), tenant_id=principal.tenant_id, email=body.email.lower(), role=body.role, subject=body.subject
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ProblemError(409, "Conflict", "A user with this email or subject exists in the tenant.") from exc
    await session.refresh(user)
    change.target = f"user:{user.id}"
    return UserPublic.model_validate(user)


@router.get("/{user_id}", dependencies=[Authorize("users:read")])
async def read(user_id: uuid.UUID, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(await get_or_404(session, User, user_id, kind="user"))


async def _manageable(change: Mutation, user_id: uuid.UUID) -> User:
    """The user, if the caller's role reaches it (nobody acts on a user above their own role)."""
    user = await get_or_404(change.session, User, user_id, kind="user")
    change.target = f"user:{user.id}"
    if not can_grant(change.principal.role, user.role):
        raise ProblemError(403, "Forbidden", f"Role {change.principal.role!r} cannot manage a {user.role!r} user.")
    return user


@router.patch("/{user_id}")
async def update(
    user_id: uuid.UUID, body: UserUpdate, change: Annotated[Mutation, Audited("users:update")], request: Request
) -> UserPublic:
    role = change.principal.role
    user = await _manageable(change, user_id)
    if body.role is not None and not can_grant(role, body.role):
        raise ProblemError(403, "Forbidden", f"Role {role!r} cannot grant {body.role!r}.")
    apply_update(user, body)
    await change.session.flush()
    request.app.state.authenticator.invalidate()
    return UserPublic.model_validate(user)


@router.delete("/{user_id}", status_code=204)
async def remove(
    user_id: uuid.UUID, change: Annotated[Mutation, Audited("users:remove")], request: Request
) -> Response:
    """Remove a user; the user's API keys go with it."""
    await change.session.delete(await _manageable(change, user_id))
    request.app.state.authenticator.invalidate()
    return Response(status_code=204)
