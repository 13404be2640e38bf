"""Experiments of the tenant (MLflow behind it): search, read, create, rename, tag, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from maestro_api.api.deps import Authorize, SessionDep
from maestro_api.core.audit import record_audit
from maestro_api.core.security import Principal
from maestro_api.registry.runtime import FreshDep, RegistryDep, json_response
from maestro_api.registry.schemas import (
    EXPERIMENT_ID_PATTERN,
    TAG_KEY_PATTERN,
    ExperimentCreate,
    ExperimentPage,
    ExperimentPublic,
    ExperimentUpdate,
    TagValue,
)

router = APIRouter(prefix="/experiments", tags=["experiments"])

ExperimentId = Annotated[str, Path(pattern=EXPERIMENT_ID_PATTERN)]


@router.get("", response_model=ExperimentPage)
async def search_experiments(
    principal: Annotated[Principal, Authorize("experiments:read")],
    registry: RegistryDep,
    fresh: FreshDep,
    filter: Annotated[
        str | None, Query(max_length=2000, description="MLflow filter, evaluated in your tenant.")
    ] = None,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    page_token: Annotated[str | None, Query(max_length=4000)] = None,
) -> Response:
    body = await registry.search_experiments(
        principal.tenant_id, filter_=filter, max_results=max_results, page_token=page_token, fresh=fresh
    )
    return json_response(body)


@router.post("", response_model=ExperimentPublic, status_code=201)
async def create_experiment(
    spec: ExperimentCreate,
    principal: Annotated[Principal, Authorize("experiments:create")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    body = await registry.create_experiment(principal.tenant_id, name=spec.name, tags=spec.tags)
    await record_audit(
        session,
        principal=principal,
        action="experiments:create",
        target=f"experiment:{spec.name}",
        outcome="success",
        request=request,
    )
    return json_response(body, 201)


@router.get("/{experiment_id}", response_model=ExperimentPublic)
async def get_experiment(
    experiment_id: ExperimentId,
    principal: Annotated[Principal, Authorize("experiments:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    return json_response(await registry.get_experiment(principal.tenant_id, experiment_id, fresh=fresh))


@router.patch("/{experiment_id}", response_model=ExperimentPublic)
async def rename_experiment(
    experiment_id: ExperimentId,
    spec: ExperimentUpdate,
    principal: Annotated[Principal, Authorize("experiments:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    body = await registry.rename_experiment(principal.tenant_id, experiment_id, name=spec.name)
    await record_audit(
        session,
        principal=principal,
        action="experiments:update",
        target=f"experiment:{experiment_id}",
        outcome="success",
        request=request,
    )
    return json_response(body)


@router.put("/{experiment_id}/tags/{key}", status_code=204)
async def set_experiment_tag(
    experiment_id: ExperimentId,
    key: Annotated[str, Path(pattern=TAG_KEY_PATTERN)],
    spec: TagValue,
    principal: Annotated[Principal, Authorize("experiments:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.set_experiment_tag(principal.tenant_id, experiment_id, key, spec.value)
    await record_audit(
        session,
        principal=principal,
        action="experiments:update",
        target=f"experiment:{experiment_id}:tag:{key}",
        outcome="success",
        request=request,
    )
    return Response(status_code=204)


@router.delete("/{experiment_id}", status_code=204)
async def delete_experiment(
    experiment_id: ExperimentId,
    principal: Annotated[Principal, Authorize("experiments:delete")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.delete_experiment(principal.tenant_id, experiment_id)
    await record_audit(
        session,
        principal=principal,
        action="experiments:delete",
        target=f"experiment:{experiment_id}",
        outcome="success",
        request=request,
    )
    return Response(status_code=204)
