"""Runs of the tenant's experiments: read and search (runs are written by training jobs through MLflow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from maestro_api.api.deps import Authorize
from maestro_api.api.dispatch import direct
from maestro_api.core.security import Principal
from maestro_api.registry import operations as ops
from maestro_api.registry.runtime import FreshDep, RegistryDep, json_response
from maestro_api.registry.schemas import RUN_ID_PATTERN, RunPage, RunPublic, RunSearch

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("/{run_id}", response_model=RunPublic)
@direct
async def get_run(
    run_id: Annotated[str, Path(pattern=RUN_ID_PATTERN)],
    principal: Annotated[Principal, Authorize("runs:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    return json_response(await registry.run(ops.GET_RUN, principal.tenant_id, fresh=fresh, run_id=run_id))


# POST because MLflow's search takes lists and a filter expression; it changes nothing (not audited).
@router.post("/search", response_model=RunPage)
async def search_runs(
    spec: RunSearch, principal: Annotated[Principal, Authorize("runs:read")], registry: RegistryDep, fresh: FreshDep
) -> Response:
    body = await registry.run(ops.SEARCH_RUNS, principal.tenant_id, fresh=fresh, **spec.model_dump())
    return json_response(body)
