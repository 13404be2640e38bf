"""Experiments of the tenant (MLflow behind it): search, read, create, rename, tag, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from maestro_api.api.deps import Audited, Authorize, Mutation
from maestro_api.api.dispatch import direct
from maestro_api.core.security import Principal
from maestro_api.registry import operations as ops
from maestro_api.registry.runtime import FilteredPage, FreshDep, RegistryDep, json_response
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
    page: FilteredPage,
) -> Response:
    body = await registry.run(ops.SEARCH_EXPERIMENTS, principal.tenant_id, fresh=fresh, **page)
    return json_response(body)


@router.post("", response_model=ExperimentPublic, status_code=201)
async def create_experiment(
    spec: ExperimentCreate, change: Annotated[Mutation, Audited("experiments:create")], registry: RegistryDep
) -> Response:
    body = await registry.run(ops.CREATE_EXPERIMENT, change.tenant_id, name=spec.name, tags=spec.tags)
    change.target = f"experiment:{spec.name}"
    return json_response(body, 201)


@router.get("/{experiment_id}", response_model=ExperimentPublic)
@direct
async def get_experiment(
    experiment_id: ExperimentId,
    principal: Annotated[Principal, Authorize("experiments:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    body = await registry.run(ops.GET_EXPERIMENT, principal.tenant_id, fresh=fresh, experiment_id=experiment_id)
    return json_response(body)


@router.patch("/{experiment_id}", response_model=ExperimentPublic)
async def rename_experiment(
    experiment_id: ExperimentId,
    spec: ExperimentUpdate,
    change: Annotated[Mutation, Audited("experiments:update")],
    registry: RegistryDep,
) -> Response:
    body = await registry.run(ops.RENAME_EXPERIMENT, change.tenant_id, experiment_id=experiment_id, new_name=spec.name)
    change.target = f"experiment:{experiment_id}"
    return json_response(body)


@router.put("/{experiment_id}/tags/{key}", status_code=204)
async def set_experiment_tag(
    experiment_id: ExperimentId,
    key: Annotated[str, Path(pattern=TAG_KEY_PATTERN)],
    spec: TagValue,
    change: Annotated[Mutation, Audited("experiments:update")],
    registry: RegistryDep,
) -> Response:
    await registry.run(ops.SET_EXPERIMENT_TAG, change.tenant_id, experiment_id=experiment_id, key=key, value=spec.value)
    change.target = f"experiment:{experiment_id}:tag:{key}"
    return Response(status_code=204)


@router.delete("/{experiment_id}", status_code=204)
async def delete_experiment(
    experiment_id: ExperimentId, change: Annotated[Mutation, Audited("experiments:delete")], registry: RegistryDep
) -> Response:
    await registry.run(ops.DELETE_EXPERIMENT, change.tenant_id, experiment_id=experiment_id)
    change.target = f"experiment:{experiment_id}"
    return Response(status_code=204)
