"""The registry's process-wide objects: created in the app's lifespan, reached by routes through ``RegistryDep``.

Importing this module registers the lifespan hook and the ``mlflow`` readiness check with the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response

from maestro_api.core.config import Settings
from maestro_api.core.lifecycle import register_lifespan, register_readiness_check
from maestro_api.registry.cache import RegistryCache
from maestro_api.registry.mlflow_client import MlflowClient
from maestro_api.registry.service import RegistryService


@asynccontextmanager
async def registry_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    client = MlflowClient(
        base_url=settings.mlflow_url, timeout_seconds=settings.mlflow_timeout_seconds, token=settings.mlflow_token
    )
    app.state.registry = RegistryService(
        client=client,
        cache=RegistryCache(app.state.redis, ttl_seconds=settings.registry_cache_ttl_seconds),
        artifact_root=settings.artifact_root,
    )
    try:
        yield
    finally:
        await client.aclose()


async def check_mlflow(app: FastAPI) -> None:
    registry: RegistryService = app.state.registry
    await registry.client.health()


register_lifespan(registry_lifespan)
register_readiness_check("mlflow", check_mlflow)


async def get_registry(request: Request) -> RegistryService:
    registry: RegistryService = request.app.state.registry
    return registry


RegistryDep = Annotated[RegistryService, Depends(get_registry)]


async def wants_fresh(request: Request) -> bool:
    """``Cache-Control: no-cache`` on a registry read: answer from MLflow, not from the cache (RFC 9111)."""
    return "no-cache" in request.headers.get("cache-control", "").lower()


FreshDep = Annotated[bool, Depends(wants_fresh)]

# The query parameters of a search: which page, and (where clients may filter) the filter.
MaxResults = Annotated[int, Query(ge=1, le=1000)]
PageToken = Annotated[str | None, Query(max_length=4000)]


async def filtered_page(
    filter: Annotated[
        str | None, Query(max_length=2000, description="MLflow filter, evaluated in your tenant.")
    ] = None,
    max_results: MaxResults = 100,
    page_token: PageToken = None,
) -> dict[str, Any]:
    """A search's query parameters, as the registry operation's fields."""
    return {"filter": filter, "max_results": max_results, "page_token": page_token}


FilteredPage = Annotated[dict[str, Any], Depends(filtered_page)]


def json_response(body: bytes, status_code: int = 200) -> Response:
    """Send already-serialised JSON (cache hits are sent as stored, without a round trip through pydantic)."""
    return Response(content=body, status_code=status_code, media_type="application/json")


def json_object(value: object, status_code: int = 200) -> Response:
    return json_response(orjson.dumps(value), status_code)
