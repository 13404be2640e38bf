"""A/B deployments: 1..N model versions of the tenant with integer weights summing to 100, and sticky routing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from maestro_api.api.deps import Authorize, SessionDep
from maestro_api.core.audit import record_audit
from maestro_api.core.errors import ProblemError
from maestro_api.core.security import Principal
from maestro_api.metrics import DEPLOYMENT_ROUTE
from maestro_api.registry import deployments as svc
from maestro_api.registry.ab import choose
from maestro_api.registry.runtime import RegistryDep
from maestro_api.registry.service import RegistryService

router = APIRouter(prefix="/deployments", tags=["deployments"])

DeploymentName = Annotated[str, Path(pattern=svc.NAME_PATTERN)]


async def _check_versions_exist(registry: RegistryService, principal: Principal, spec: svc._Variants) -> None:
    """Every variant must name a version of the caller's own tenant (looked up in its MLflow workspace)."""
    for v in spec.variants:
        if not await registry.version_exists(principal.tenant_id, v.model, v.version):
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
    principal: Annotated[Principal, Authorize("deployments:create")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> svc.DeploymentPublic:
    await _check_versions_exist(registry, principal, spec)
    row = await svc.create_deployment(session, tenant_id=principal.tenant_id, spec=spec)
    await record_audit(
        session,
        principal=principal,
        action="deployments:create",
        target=f"deployment:{row.name}:weights:{svc.weights_summary(row.variants)}",
        outcome="success",
        request=request,
    )
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
    principal: Annotated[Principal, Authorize("deployments:route")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> svc.DeploymentPublic:
    """Change the variants and their weights (audited with the old and the new split)."""
    await _check_versions_exist(registry, principal, spec)
    row, previous = await svc.replace_variants(session, tenant_id=principal.tenant_id, name=name, spec=spec)
    await record_audit(
        session,
        principal=principal,
        action="deployments:route",
        target=f"deployment:{name}:weights:{svc.weights_summary(previous)}->{svc.weights_summary(row.variants)}",
        outcome="success",
        request=request,
    )
    return svc.to_public(row)


@router.delete("/{name}", status_code=204)
async def delete_deployment(
    name: DeploymentName,
    principal: Annotated[Principal, Authorize("deployments:delete")],
    session: SessionDep,
    request: Request,
) -> Response:
    await svc.delete_deployment(session, tenant_id=principal.tenant_id, name=name)
    await record_audit(
        session,
        principal=principal,
        action="deployments:delete",
        target=f"deployment:{name}",
        outcome="success",
        request=request,
    )
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
