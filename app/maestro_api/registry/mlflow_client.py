"""An async client for MLflow's REST API: pooled, bounded in time, and mapping every failure to problem+json.

MLflow is internal: only this client talks to it, and every call names the MLflow workspace of the caller's
tenant (``X-MLFLOW-WORKSPACE``), set here from the authenticated principal and never from the client's headers.
Every call also carries the API's own bearer token for MLflow (``mlflow_token``), which refuses requests without it.

Errors are answered from one table (``registry.refusals``): a fixed sentence per MLflow error code, never MLflow's
own text; connection errors and timeouts answer 503 with ``Retry-After`` (``maestro_mlflow_errors_total`` kinds
``unavailable`` and ``timeout``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from maestro_api.core.errors import ProblemError
from maestro_api.metrics import MLFLOW_ERRORS, MLFLOW_REQUEST_DURATION
from maestro_api.registry.refusals import UNREADABLE, Refusal, classify

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
API_PREFIX = "/api/2.0/mlflow/"
WORKSPACES_PATH = "/api/3.0/mlflow/workspaces"
ARTIFACTS_PATH = "/api/2.0/mlflow-artifacts/artifacts"


def mlflow_auth_headers(token: SecretStr | None) -> dict[str, str]:
    """The Authorization header of the API's calls to MLflow (none without a token)."""
    return {"Authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}


class MlflowUnavailableError(ProblemError):
    """MLflow could not be reached in time: 503 with a short Retry-After."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, "Model registry unavailable", detail, headers={"Retry-After": "5"})


class MlflowClient:
    """One pooled ``httpx.AsyncClient`` per process, bounded by ``timeout_seconds`` for every phase.

    Args:
        base_url: MLflow's base URL (``http://mlflow:5000``).
        timeout_seconds: read/write/pool timeout of one request; connecting gets at most 2 s of it.
        max_connections: pool size; requests beyond it wait for at most the pool timeout, then 503.
        token: the API's bearer token for MLflow, sent on every call (None: no Authorization header).
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout_seconds: float,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
        token: SecretStr | None = None,
    ) -> None:
        timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0))
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            transport=transport,
            headers={"Accept": "application/json", **mlflow_auth_headers(token)},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        endpoint: str,
        *,
        workspace: str,
        operation: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Call ``/api/2.0/mlflow/<endpoint>`` in ``workspace`` and return the decoded JSON object."""
        return await self._request(
            method, API_PREFIX + endpoint, workspace=workspace, operation=operation, params=params, body=body
        )

    async def list_artifacts(self, *, workspace: str, path: str) -> list[dict[str, Any]]:
        """The entries (``path``, ``is_dir``, ``file_size``) of one directory of MLflow's artifact proxy in
        ``workspace`` (``path`` relative to the workspace; empty: its root). A missing directory lists as empty."""
        params = {"path": path} if path else None
        answer = await self._request(
            "GET", ARTIFACTS_PATH, workspace=workspace, operation="list_artifacts", params=params
        )
        files = answer.get("files") or []
        return [f for f in files if isinstance(f, dict)]

    async def ensure_workspace(self, *, workspace: str, artifact_root: str) -> None:
        """Create ``workspace`` with its own default artifact root unless it exists (idempotent)."""
        try:
            await self._request(
                "GET", f"{WORKSPACES_PATH}/{workspace}", workspace=None, operation="get_workspace", params=None
            )
            return
        except ProblemError as exc:
            if exc.status != 404:
                raise
        try:
            await self._request(
                "POST",
                WORKSPACES_PATH,
                workspace=None,
                operation="create_workspace",
                body={"name": workspace, "default_artifact_root": artifact_root},
            )
        except ProblemError as exc:
            if exc.status != 409:  # created concurrently by another worker: fine
                raise

    async def health(self) -> None:
        """Raise unless MLflow answers ``/health`` with 200 (used by ``/readyz``)."""
        try:
            response = await self._http.get("/health")
        except httpx.HTTPError as exc:
            raise MlflowUnavailableError(f"MLflow health check failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise MlflowUnavailableError(f"MLflow health check answered {response.status_code}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        workspace: str | None,
        operation: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {WORKSPACE_HEADER: workspace} if workspace else {}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = orjson.dumps(body)
        started = time.perf_counter()
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            MLFLOW_ERRORS.labels(kind="timeout").inc()
            raise MlflowUnavailableError("The model registry did not answer in time.") from exc
        except httpx.TransportError as exc:
            MLFLOW_ERRORS.labels(kind="unavailable").inc()
            raise MlflowUnavailableError("The model registry cannot be reached.") from exc
        finally:
            MLFLOW_REQUEST_DURATION.labels(operation=operation).observe(time.perf_counter() - started)
        return _decode(response, f"{method} {path.removeprefix(API_PREFIX)}")


def _decode(response: httpx.Response, endpoint: str) -> dict[str, Any]:
    status = response.status_code
    try:
        payload = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        payload = None
    if 200 <= status < 300:
        if not isinstance(payload, dict):
            MLFLOW_ERRORS.labels(kind="upstream_5xx").inc()
            raise refusal_error(UNREADABLE)
        return payload
    raise refusal_error(classify(status, payload, endpoint=endpoint))


def refusal_error(refusal: Refusal) -> ProblemError:
    """The problem+json answer of ``/v1`` for an MLflow refusal."""
    return ProblemError(refusal.status, refusal.title, refusal.detail)
