"""Tenants. Tenant admins see their own tenant; platform admins see and manage all (RLS platform scope)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from maestro_api.api.deps import Audited, Authorize, Mutation, SessionDep
from maestro_api.crud import apply_update, create_tenant, get_or_404, list_rows
from maestro_api.models import Tenant
from maestro_api.schemas import TenantCreate, TenantPublic, TenantUpdate

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get("", dependencies=[Authorize("tenants:read")])
async def list_tenants(session: SessionDep) -> list[TenantPublic]:
    """Tenants visible to the caller (RLS decides: one for a tenant admin, all for a platform admin)."""
    return [TenantPublic.model_validate(t) for t in await list_rows(session, Tenant, Tenant.name)]


@router.post("", status_code=201)
async def create(body: TenantCreate, change: Annotated[Mutation, Audited("tenants:create")]) -> TenantPublic:
    tenant = await create_tenant(change.session, name=body.name, tier=body.tier)
    change.target = f"tenant:{tenant.id}"
    return TenantPublic.model_validate(tenant)


@router.get("/{tenant_id}", dependencies=[Authorize("tenants:read")])
async def read(tenant_id: uuid.UUID, session: SessionDep) -> TenantPublic:
    return TenantPublic.model_validate(await get_or_404(session, Tenant, tenant_id, kind="tenant"))


@router.patch("/{tenant_id}")
async def update(
    tenant_id: uuid.UUID, body: TenantUpdate, change: Annotated[Mutation, Audited("tenants:update")]
) -> TenantPublic:
    tenant = await get_or_404(change.session, Tenant, tenant_id, kind="tenant")
    apply_update(tenant, body)
    await change.session.flush()
    change.target = f"tenant:{tenant.id}"
    return TenantPublic.model_validate(tenant)


@router.delete("/{tenant_id}", status_code=204)
async def delete(tenant_id: uuid.UUID, change: Annotated[Mutation, Audited("tenants:delete")]) -> Response:
    await change.session.delete(await get_or_404(change.session, Tenant, tenant_id, kind="tenant"))
    change.target = f"tenant:{tenant_id}"
    return Response(status_code=204)
