"""Runs of the tenant's experiments: read and search (runs are written by training jobs through MLflow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from maestro_api.api.deps import Authorize
from maestro_api.core.security import Principal
from maestro_api.registry.runtime import FreshDep, RegistryDep, json_response
from maestro_api.registry.schemas import RUN_ID_PATTERN, RunPage, RunPublic, RunSearch

router = APIRouter(prefix="/runs", tags=["runs"])


@router.get("/{run_id}", response_model=RunPublic)
async def get_run(
    run_id: Annotated[str, Path(pattern=RUN_ID_PATTERN)],
    principal: Annotated[Principal, Authorize("runs:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    return json_response(await registry.get_run(principal.tenant_id, run_id, fresh=fresh))


# POST because MLflow's search takes lists and a filter expression; it changes nothing (not audited).
@router.post("/search", response_model=RunPage)
async def search_runs(
    spec: RunSearch, principal: Annotated[Principal, Authorize("runs:read")], registry: RegistryDep, fresh: FreshDep
) -> Response:
    body = await registry.search_runs(
        principal.tenant_id,
        experiment_ids=spec.experiment_ids,
        filter_=spec.filter,
        max_results=spec.max_results,
        order_by=spec.order_by,
        page_token=spec.page_token,
        fresh=fresh,
    )
    return json_response(body)
