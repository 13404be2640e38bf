"""An async client for MLflow's REST API: pooled, bounded in time, and mapping every failure to problem+json.

MLflow is internal: only this client talks to it, and every call names the MLflow workspace of the caller's
tenant (``X-MLFLOW-WORKSPACE``), set here from the authenticated principal and never from the client's headers.
Every call also carries the API's own bearer token for MLflow (``mlflow_token``), which refuses requests without it.

Error mapping (never a 500 for bad input):

==============================================  =====  ================================
MLflow answer                                   ours   ``maestro_mlflow_errors_total``
==============================================  =====  ================================
RESOURCE_DOES_NOT_EXIST / 404                   404    (not an error of MLflow)
RESOURCE_ALREADY_EXISTS                         409    bad_request
INVALID_STATE                                   409    bad_request
INVALID_PARAMETER_VALUE, BAD_REQUEST, other 4xx 422    bad_request
5xx                                             502    upstream_5xx
connect refused / reset / DNS                   503    unavailable
connect, read, write or pool timeout            503    timeout
==============================================  =====  ================================
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

WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
API_PREFIX = "/api/2.0/mlflow/"
WORKSPACES_PATH = "/api/3.0/mlflow/workspaces"

_CONFLICT_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "INVALID_STATE"})
# Detail texts of MLflow that are safe to show: they only echo the caller's own input. Everything else is
# replaced by a fixed sentence so that no internal name (workspace, host, path) reaches the client.
_SAFE_DETAIL_CODES = frozenset({"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "INVALID_STATE", "BAD_REQUEST"})
_MAX_DETAIL = 500


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
        return _decode(response, workspace)


def _decode(response: httpx.Response, workspace: str | None) -> dict[str, Any]:
    status = response.status_code
    try:
        payload = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        payload = None
    if 200 <= status < 300:
        if not isinstance(payload, dict):
            MLFLOW_ERRORS.labels(kind="upstream_5xx").inc()
            raise ProblemError(502, "Bad gateway", "The model registry sent an unreadable answer.")
        return payload
    code = str(payload.get("error_code", "")) if isinstance(payload, dict) else ""
    message = str(payload.get("message", "")) if isinstance(payload, dict) else ""
    if status >= 500 and code != "RESOURCE_DOES_NOT_EXIST":
        MLFLOW_ERRORS.labels(kind="upstream_5xx").inc()
        raise ProblemError(502, "Bad gateway", "The model registry failed to answer this request.")
    if code == "RESOURCE_DOES_NOT_EXIST" or status == 404:
        raise ProblemError(404, "Not found", "No such object in this tenant.")
    MLFLOW_ERRORS.labels(kind="bad_request").inc()
    detail = message[:_MAX_DETAIL] if code in _SAFE_DETAIL_CODES and message else "The registry refused the request."
    if workspace:
        detail = detail.replace(workspace, "<tenant>")
    if code in _CONFLICT_CODES:
        raise ProblemError(409, "Conflict", detail)
    raise ProblemError(422, "Unprocessable Content", detail)
