"""The proxy's process-wide object and its FastAPI plumbing.

- ``mlflow_proxy_lifespan``: creates the ``MlflowForwarder`` on the serving loop (registered with the core).
- ``MlflowRoute``: the route class of every ``/mlflow`` route. It renders any ``ProblemError`` (from the core's
  authentication, RBAC and rate-limit dependencies too) in MLflow's error shape and observes the latency.
- ``MlflowAuthorize``: the core's ``Authorize``, so the RBAC walk and denial audit apply unchanged.
- ``tenant_workspace``: the caller's workspace, created on first use with the tenant's artifact root.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.responses import Response

from maestro_api.api.deps import get_sessionmaker
from maestro_api.core.audit import AuditEntry, Outcome, record_audit_separately
from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError, pool_exhausted
from maestro_api.core.lifecycle import register_lifespan
from maestro_api.core.security import Principal
from maestro_api.metrics import MLFLOW_PROXY_REQUEST_DURATION
from maestro_api.mlflow_proxy.errors import mlflow_error_response
from maestro_api.mlflow_proxy.forward import MlflowForwarder
from maestro_api.registry.scoping import tenant_artifact_root, workspace_for
from maestro_api.registry.service import RegistryService


@asynccontextmanager
async def mlflow_proxy_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    forwarder = MlflowForwarder(
        base_url=settings.mlflow_url,
        timeout_seconds=settings.mlflow_timeout_seconds,
        max_artifact_bytes=settings.mlflow_proxy_max_artifact_bytes,
        token=settings.mlflow_token,
    )
    app.state.mlflow_proxy = forwarder
    app.state.mlflow_proxy_workspaces = set()
    try:
        yield
    finally:
        await forwarder.aclose()


register_lifespan(mlflow_proxy_lifespan)


async def get_forwarder(request: Request) -> MlflowForwarder:
    forwarder: MlflowForwarder = request.app.state.mlflow_proxy
    return forwarder


async def tenant_workspace(request: Request, tenant_id: uuid.UUID) -> str:
    """The tenant's MLflow workspace, created once per process (the registry's client and naming)."""
    workspace = workspace_for(tenant_id)
    known: set[uuid.UUID] = request.app.state.mlflow_proxy_workspaces
    if tenant_id not in known:
        registry: RegistryService = request.app.state.registry
        await registry.client.ensure_workspace(
            workspace=workspace, artifact_root=tenant_artifact_root(registry.artifact_root, tenant_id)
        )
        known.add(tenant_id)
    return workspace


async def audit(request: Request, principal: Principal, *, action: str, target: str, outcome: Outcome) -> None:
    """Audit one proxied mutation in its own transaction (no DB connection is held while MLflow works)."""
    await record_audit_separately(get_sessionmaker(request), AuditEntry(principal, action, target, outcome, request))


class MlflowRoute(APIRoute):
    """A route under ``/mlflow``: errors in MLflow's shape, latency in ``maestro_mlflow_proxy_request_duration``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        histogram = MLFLOW_PROXY_REQUEST_DURATION.labels(route=self.name)

        async def mlflow_handler(request: Request) -> Response:
            started = time.perf_counter()
            try:
                return await handler(request)
            except ProblemError as exc:
                return mlflow_error_response(exc)
            except PoolTimeoutError:
                return mlflow_error_response(pool_exhausted())
            finally:
                histogram.observe(time.perf_counter() - started)

        return mlflow_handler
