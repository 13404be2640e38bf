"""Users of the caller's tenant (its directory; OIDC claims carry the role at sign-in)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from maestro_api.api.deps import Audited, Authorize, Mutation, SessionDep
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import can_grant
from maestro_api.crud import apply_update, get_or_404
from maestro_api.models import Quota, User
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
    change.target = f"user:{user.id}"
    return UserPublic.model_validate(user)


@router.get("/{user_id}", dependencies=[Authorize("users:read")])
async def read(user_id: uuid.UUID, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(await get_or_404(session, User, user_id, kind="user"))


@router.patch("/{user_id}")
async def update(
    user_id: uuid.UUID, body: UserUpdate, change: Annotated[Mutation, Audited("users:update")]
) -> UserPublic:
    role = change.principal.role
    user = await get_or_404(change.session, User, user_id, kind="user")
    if body.role is not None and not (can_grant(role, body.role) and can_grant(role, user.role)):
        raise ProblemError(403, "Forbidden", f"Role {role!r} cannot grant {body.role!r}.")
    apply_update(user, body)
    await change.session.flush()
    change.target = f"user:{user.id}"
    return UserPublic.model_validate(user)


@router.delete("/{user_id}", status_code=204)
async def remove(user_id: uuid.UUID, change: Annotated[Mutation, Audited("users:remove")]) -> Response:
    await change.session.delete(await get_or_404(change.session, User, user_id, kind="user"))
    change.target = f"user:{user_id}"
    return Response(status_code=204)
