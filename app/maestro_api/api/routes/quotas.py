"""A tenant's quotas: readable by its admins, changed by platform admins."""

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import func

from maestro_api.api.deps import Authorize, CurrentPrincipal, SessionDep
from maestro_api.core.audit import record_audit
from maestro_api.crud import not_found
from maestro_api.models import Quota
from maestro_api.schemas import QuotaPublic, QuotaUpdate

router = APIRouter(prefix="/quotas", tags=["quotas"])


@router.get("/{tenant_id}", dependencies=[Authorize("quotas:read")])
async def read(tenant_id: uuid.UUID, session: SessionDep) -> QuotaPublic:
    quota = await session.get(Quota, tenant_id)
    if quota is None:
        raise not_found("quota")
    return QuotaPublic.model_validate(quota)


@router.patch("/{tenant_id}", dependencies=[Authorize("quotas:update")])
async def update(
    tenant_id: uuid.UUID, body: QuotaUpdate, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> QuotaPublic:
    quota = await session.get(Quota, tenant_id)
    if quota is None:
        raise not_found("quota")
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(quota, field, value)
    quota.updated_at = func.now()
    await session.flush()
    await session.refresh(quota)
    await record_audit(
        session,
        principal=principal,
        action="quotas:update",
        target=f"quota:{tenant_id}",
        outcome="success",
        request=request,
    )
    return QuotaPublic.model_validate(quota)
