"""A/B deployments: 1..N model versions of the tenant with integer weights summing to 100, and sticky routing."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from maestro_api.api.deps import Audited, Authorize, Mutation, SessionDep
from maestro_api.core.errors import ProblemError
from maestro_api.core.security import Principal
from maestro_api.metrics import DEPLOYMENT_ROUTE
from maestro_api.registry import deployments as svc
from maestro_api.registry import operations as ops
from maestro_api.registry import quotas
from maestro_api.registry.ab import choose
from maestro_api.registry.runtime import RegistryDep
from maestro_api.registry.service import RegistryService

router = APIRouter(prefix="/deployments", tags=["deployments"])

DeploymentName = Annotated[str, Path(pattern=svc.NAME_PATTERN)]


async def _check_versions_exist(registry: RegistryService, tenant_id: uuid.UUID, spec: svc.Variants) -> None:
    """Every variant must name a version of the caller's own tenant (looked up in its MLflow workspace)."""
    for v in spec.variants:
        if not await registry.exists(ops.GET_VERSION, tenant_id, name=v.model, version=v.version):
            raise ProblemError(
                422, "Unknown model version", f"Variant {v.name!r} names no model version of this tenant."
            )


@router.get("", response_model=svc.DeploymentList)
async def list_deployments(
    principal: Annotated[Principal, Authorize("deployments:read")], session: SessionDep
) -> svc.DeploymentList:
    rows = await svc.list_deployments(session, tenant_id=principal.tenant_id)
    return svc.DeploymentList(items=[svc.to_public(r) for r in rows])


@router.post("", response_model=svc.DeploymentPublic, status_code=201)
async def create_deployment(
    spec: svc.DeploymentCreate,
    change: Annotated[Mutation, Audited("deployments:create")],
    registry: RegistryDep,
) -> svc.DeploymentPublic:
    """Create a deployment; 409 past the tenant's ``max_deployments`` (checked atomically)."""
    await _check_versions_exist(registry, change.tenant_id, spec)
    await quotas.take_deployment(change.session, tenant_id=change.tenant_id)
    row = await svc.create_deployment(change.session, tenant_id=change.tenant_id, spec=spec)
    change.target = f"deployment:{row.name}:weights:{svc.weights_summary(row.variants)}"
    return svc.to_public(row)


@router.get("/{name}", response_model=svc.DeploymentPublic)
async def get_deployment(
    name: DeploymentName, principal: Annotated[Principal, Authorize("deployments:read")], session: SessionDep
) -> svc.DeploymentPublic:
    return svc.to_public(await svc.get_deployment(session, tenant_id=principal.tenant_id, name=name))


@router.put("/{name}/variants", response_model=svc.DeploymentPublic)
async def replace_variants(
    name: DeploymentName,
    spec: svc.DeploymentVariantsUpdate,
    change: Annotated[Mutation, Audited("deployments:route")],
    registry: RegistryDep,
) -> svc.DeploymentPublic:
    """Change the variants and their weights (audited with the old and the new split)."""
    await _check_versions_exist(registry, change.tenant_id, spec)
    row, previous = await svc.replace_variants(change.session, tenant_id=change.tenant_id, name=name, spec=spec)
    change.target = f"deployment:{name}:weights:{svc.weights_summary(previous)}->{svc.weights_summary(row.variants)}"
    return svc.to_public(row)


@router.delete("/{name}", status_code=204)
async def delete_deployment(
    name: DeploymentName, change: Annotated[Mutation, Audited("deployments:delete")]
) -> Response:
    await svc.delete_deployment(change.session, tenant_id=change.tenant_id, name=name)
    change.target = f"deployment:{name}"
    return Response(status_code=204)


@router.get("/{name}/route", response_model=svc.RouteDecision)
async def route(
    name: DeploymentName,
    key: Annotated[str, Query(min_length=1, max_length=256, description="Sticky routing key (user, session).")],
    principal: Annotated[Principal, Authorize("deployments:read")],
    session: SessionDep,
) -> svc.RouteDecision:
    """The variant serving ``key``: deterministic per key, matching the weights over many keys."""
    row = await svc.get_deployment(session, tenant_id=principal.tenant_id, name=name)
    chosen = choose(str(row.id), key, svc.variants_of(row))
    spec = next(v for v in row.variants if v["name"] == chosen.name)
    DEPLOYMENT_ROUTE.labels(tenant=principal.tenant_name, deployment=name, variant=chosen.name).inc()
    return svc.RouteDecision(
        deployment=name, key=key, variant=chosen.name, model=str(spec["model"]), version=str(spec["version"])
    )
