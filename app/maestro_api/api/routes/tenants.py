"""Tenants. Tenant admins see their own tenant; platform admins see and manage all (RLS platform scope)."""

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from maestro_api.api.deps import Authorize, CurrentPrincipal, SessionDep
from maestro_api.core.audit import record_audit
from maestro_api.crud import create_tenant, not_found
from maestro_api.models import Tenant
from maestro_api.schemas import TenantCreate, TenantPublic, TenantUpdate

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get("", dependencies=[Authorize("tenants:read")])
async def list_tenants(session: SessionDep) -> list[TenantPublic]:
    """Tenants visible to the caller (RLS decides: one for a tenant admin, all for a platform admin)."""
    rows = await session.scalars(select(Tenant).order_by(Tenant.name).limit(1000))
    return [TenantPublic.model_validate(t) for t in rows]


@router.post("", status_code=201, dependencies=[Authorize("tenants:create")])
async def create(
    body: TenantCreate, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> TenantPublic:
    tenant = await create_tenant(session, name=body.name, tier=body.tier)
    await record_audit(
        session,
        principal=principal,
        action="tenants:create",
        target=f"tenant:{tenant.id}",
        outcome="success",
        request=request,
    )
    return TenantPublic.model_validate(tenant)


@router.get("/{tenant_id}", dependencies=[Authorize("tenants:read")])
async def read(tenant_id: uuid.UUID, session: SessionDep) -> TenantPublic:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    return TenantPublic.model_validate(tenant)


@router.patch("/{tenant_id}", dependencies=[Authorize("tenants:update")])
async def update(
    tenant_id: uuid.UUID, body: TenantUpdate, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> TenantPublic:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(tenant, field, value)
    await session.flush()
    await record_audit(
        session,
        principal=principal,
        action="tenants:update",
        target=f"tenant:{tenant.id}",
        outcome="success",
        request=request,
    )
    return TenantPublic.model_validate(tenant)


@router.delete("/{tenant_id}", status_code=204, dependencies=[Authorize("tenants:delete")])
async def delete(tenant_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, request: Request) -> Response:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise not_found("tenant")
    await session.delete(tenant)
    await record_audit(
        session,
        principal=principal,
        action="tenants:delete",
        target=f"tenant:{tenant_id}",
        outcome="success",
        request=request,
    )
    return Response(status_code=204)
