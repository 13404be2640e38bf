"""Users of the caller's tenant (its directory; OIDC claims carry the role at sign-in)."""

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from maestro_api.api.deps import Authorize, CurrentPrincipal, SessionDep
from maestro_api.core.audit import record_audit
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import can_grant
from maestro_api.crud import get_user
from maestro_api.models import Quota, User
from maestro_api.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", dependencies=[Authorize("users:read")])
async def list_users(session: SessionDep) -> list[UserPublic]:
    rows = await session.scalars(select(User).order_by(User.email).limit(1000))
    return [UserPublic.model_validate(u) for u in rows]


@router.post("", status_code=201, dependencies=[Authorize("users:invite")])
async def invite(body: UserCreate, session: SessionDep, principal: CurrentPrincipal, request: Request) -> UserPublic:
    if not can_grant(principal.role, body.role):
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} cannot grant {body.role!r}.")
    quota = await session.get(Quota, principal.tenant_id)
    count = await session.scalar(select(func.count()).select_from(User))
    if quota is not None and (count or 0) >= quota.max_users:
        raise ProblemError(409, "Quota Exceeded", f"The tenant's quota allows {quota.max_users} users.")
    user = User(
        id=uuid.uuid4(), tenant_id=principal.tenant_id, email=body.email.lower(), role=body.role, subject=body.subject
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ProblemError(409, "Conflict", "A user with this email exists in the tenant.") from exc
    await session.refresh(user)
    await record_audit(
        session,
        principal=principal,
        action="users:invite",
        target=f"user:{user.id}",
        outcome="success",
        request=request,
    )
    return UserPublic.model_validate(user)


@router.get("/{user_id}", dependencies=[Authorize("users:read")])
async def read(user_id: uuid.UUID, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(await get_user(session, user_id=user_id))


@router.patch("/{user_id}", dependencies=[Authorize("users:update")])
async def update(
    user_id: uuid.UUID, body: UserUpdate, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> UserPublic:
    user = await get_user(session, user_id=user_id)
    if body.role is not None and not (can_grant(principal.role, body.role) and can_grant(principal.role, user.role)):
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} cannot grant {body.role!r}.")
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(user, field, value)
    await session.flush()
    await record_audit(
        session,
        principal=principal,
        action="users:update",
        target=f"user:{user.id}",
        outcome="success",
        request=request,
    )
    return UserPublic.model_validate(user)


@router.delete("/{user_id}", status_code=204, dependencies=[Authorize("users:remove")])
async def remove(user_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request) -> Response:
    user = await get_user(session, user_id=user_id)
    await session.delete(user)
    await record_audit(
        session,
        principal=principal,
        action="users:remove",
        target=f"user:{user_id}",
        outcome="success",
        request=request,
    )
    return Response(status_code=204)
