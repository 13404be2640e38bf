"""Service functions of the core resources (keyword-only arguments; callers own the transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from maestro_api.core.errors import ProblemError
from maestro_api.core.security import NewApiKey, generate_api_key
from maestro_api.models import ApiKey, Base, Quota, Tenant

Row = TypeVar("Row", bound=Base)

DEFAULT_QUOTAS: dict[str, dict[str, int]] = {
    "free": {"max_users": 5, "max_api_keys": 5, "max_models": 10, "max_deployments": 2},
    "standard": {"max_users": 50, "max_api_keys": 50, "max_models": 100, "max_deployments": 20},
    "premium": {"max_users": 200, "max_api_keys": 200, "max_models": 1_000, "max_deployments": 100},
    "enterprise": {"max_users": 1_000, "max_api_keys": 1_000, "max_models": 10_000, "max_deployments": 1_000},
}


QuotaName = Literal["max_users", "max_api_keys", "max_models", "max_deployments"]
_QUOTA_NOUNS: dict[QuotaName, str] = {
    "max_users": "users",
    "max_api_keys": "active API keys",
    "max_models": "registered models",
    "max_deployments": "deployments",
}
QUOTA_EXCEEDED_TYPE = "https://maestro.dev/problems/quota-exceeded"


def quota_exceeded(quota: QuotaName, limit: int) -> ProblemError:
    """409 problem+json naming the quota and its limit, and nothing else (RFC 9457 extension members)."""
    return ProblemError(
        409,
        "Quota exceeded",
        f"The tenant's quota {quota} allows {limit} {_QUOTA_NOUNS[quota]}; delete one or ask for a higher quota.",
        type_=QUOTA_EXCEEDED_TYPE,
        extensions={"quota": quota, "limit": limit},
    )


async def lock_quota(session: AsyncSession, tenant_id: uuid.UUID) -> Quota | None:
    """The tenant's quota row, locked until ``session``'s transaction ends (None: the tenant has no quota row): the
    creates of one tenant that count against a quota are serialised, so none gets past the limit."""
    quota: Quota | None = await session.scalar(select(Quota).where(Quota.tenant_id == tenant_id).with_for_update())
    return quota


def not_found(kind: str) -> ProblemError:
    """The answer for a missing object and for another tenant's object alike."""
    return ProblemError(404, "Not Found", f"No such {kind}.")


async def get_or_404(session: AsyncSession, model: type[Row], key: Any, *, kind: str) -> Row:
    """The row of ``model`` with primary key ``key`` that the session's tenant may see, or ``not_found(kind)``."""
    row = await session.get(model, key)
    if row is None:
        raise not_found(kind)
    return row


def apply_update(row: Base, update: BaseModel) -> None:
    """Set every field the client sent in ``update`` (a PATCH body) on ``row``; an explicit null changes nothing."""
    for field, value in update.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(row, field, value)


async def create_tenant(session: AsyncSession, *, name: str, tier: str) -> Tenant:
    """Create a tenant and its tier's default quota (the transaction needs platform scope)."""
    tenant = Tenant(id=uuid.uuid4(), name=name, tier=tier, active=True)
    session.add(tenant)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ProblemError(409, "Conflict", f"A tenant named {name!r} exists.") from exc
    session.add(Quota(tenant_id=tenant.id, **DEFAULT_QUOTAS[tier]))
    await session.flush()
    await session.refresh(tenant)
    return tenant


async def create_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    name: str,
    role: str,
    created_by: str,
    pepper: str,
    user_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
    enforce_quota: bool = True,
) -> tuple[ApiKey, NewApiKey]:
    """Store a new key's hash; return the row and the plaintext (to show once). ``user_id`` is the user the key acts
    for (None: a bootstrap key)."""
    if enforce_quota:
        quota = await lock_quota(session, tenant_id)
        active = await session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
        )
        if quota is not None and (active or 0) >= quota.max_api_keys:
            raise quota_exceeded("max_api_keys", quota.max_api_keys)
    new = generate_api_key(pepper)
    row = ApiKey(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=name,
        prefix=new.prefix,
        key_hash=new.key_hash,
        role=role,
        created_by=created_by,
        user_id=user_id,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, new
