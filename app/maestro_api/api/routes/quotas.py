"""A tenant's quotas: readable by its admins, changed by platform admins."""

import uuid
from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import func

from maestro_api.api.deps import Audited, Authorize, Mutation, SessionDep
from maestro_api.crud import apply_update, get_or_404
from maestro_api.models import Quota
from maestro_api.schemas import QuotaPublic, QuotaUpdate

router = APIRouter(prefix="/quotas", tags=["quotas"])


@router.get("/{tenant_id}", dependencies=[Authorize("quotas:read")])
async def read(tenant_id: uuid.UUID, session: SessionDep) -> QuotaPublic:
    return QuotaPublic.model_validate(await get_or_404(session, Quota, tenant_id, kind="quota"))


@router.patch("/{tenant_id}")
async def update(
    tenant_id: uuid.UUID, body: QuotaUpdate, change: Annotated[Mutation, Audited("quotas:update")]
) -> QuotaPublic:
    quota = await get_or_404(change.session, Quota, tenant_id, kind="quota")
    apply_update(quota, body)
    quota.updated_at = func.now()
    await change.session.flush()
    await change.session.refresh(quota)
    change.target = f"quota:{tenant_id}"
    return QuotaPublic.model_validate(quota)
