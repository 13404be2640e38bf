"""The upstream side of the proxy: one pooled ``httpx.AsyncClient`` to MLflow, headers built from scratch.

Only four headers reach MLflow: ``Accept``, ``Content-Type``, ``X-MLFLOW-WORKSPACE`` (the tenant's workspace, from
the authenticated principal) and ``Authorization`` with the API's own token for MLflow. The client's own headers,
its workspace header and its ``Authorization`` included, are never forwarded. Artifacts are streamed in both
directions, chunk by chunk, and cut off at ``max_artifact_bytes``; JSON calls are small and read whole.
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import orjson
from pydantic import SecretStr
from starlette.responses import Response, StreamingResponse

from maestro_api.metrics import MLFLOW_PROXY_UPSTREAM_ERRORS
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.registry.mlflow_client import ARTIFACTS_PATH, WORKSPACE_HEADER, mlflow_auth_headers
from maestro_api.registry.refusals import classify

ARTIFACTS_UPSTREAM = ARTIFACTS_PATH
_PASSED_DOWNLOAD_HEADERS = ("content-type", "content-length", "content-encoding", "content-disposition")


class _TooLargeError(Exception):
    pass


def _unavailable(route: str, exc: Exception) -> MlflowApiError:
    MLFLOW_PROXY_UPSTREAM_ERRORS.labels(route=route).inc()
    kind = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "cannot be reached"
    return MlflowApiError(503, "TEMPORARILY_UNAVAILABLE", f"The tracking server {kind}.", headers={"Retry-After": "5"})


def _too_large(limit: int) -> MlflowApiError:
    return MlflowApiError(
        413,
        "RESOURCE_EXHAUSTED",
        f"The artifact exceeds {limit} bytes, the most this server accepts (MAESTRO_MLFLOW_PROXY_MAX_ARTIFACT_BYTES).",
    )


def upstream_error(status: int, content: bytes, *, route: str) -> MlflowApiError:
    """MLflow's refusal as the proxy answers it: MLflow's shape, a fixed sentence (``registry.refusals``), never
    MLflow's own message."""
    if status >= 500:
        MLFLOW_PROXY_UPSTREAM_ERRORS.labels(route=route).inc()
    try:
        payload = orjson.loads(content) if content else {}
    except orjson.JSONDecodeError:
        payload = None
    refusal = classify(status, payload, endpoint=route)
    return MlflowApiError(400 if refusal.status == 422 else refusal.status, refusal.code, refusal.detail)


class MlflowForwarder:
    """Forwards allow-listed calls to MLflow.

    Args:
        base_url: MLflow's base URL.
        timeout_seconds: bound of one JSON call (connect at most 2 s of it).
        artifact_timeout_seconds: read/write bound between two chunks of an artifact transfer.
        max_artifact_bytes: largest artifact streamed in either direction (larger ones: 413 RESOURCE_EXHAUSTED).
        token: the API's bearer token for MLflow, sent on every call (None: no Authorization header).
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout_seconds: float,
        artifact_timeout_seconds: float = 60.0,
        max_artifact_bytes: int = 1 << 30,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
        token: SecretStr | None = None,
    ) -> None:
        self.max_artifact_bytes = max_artifact_bytes
        self._artifact_timeout = httpx.Timeout(artifact_timeout_seconds, connect=min(artifact_timeout_seconds, 2.0))
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            transport=transport,
            headers=mlflow_auth_headers(token),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def _headers(workspace: str, content_type: str | None = None) -> dict[str, str]:
        headers = {WORKSPACE_HEADER: workspace, "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def json_call(
        self, *, method: str, path: str, query: str, body: bytes | None, workspace: str, route: str
    ) -> Response:
        """Forward one JSON call; MLflow's 2xx answer is passed on as is, an error raises ``MlflowApiError``."""
        url = httpx.URL(path, query=query.encode("latin-1")) if query else path
        content_type = "application/json" if body is not None else None
        try:
            r = await self._http.request(method, url, content=body, headers=self._headers(workspace, content_type))
        except httpx.HTTPError as exc:
            raise _unavailable(route, exc) from exc
        if r.status_code >= 400:
            raise upstream_error(r.status_code, r.content, route=route)
        return Response(content=r.content, status_code=r.status_code, media_type="application/json")

    async def upload(
        self, *, path: str, body: AsyncIterator[bytes], content_type: str | None, workspace: str, route: str
    ) -> Response:
        """Stream the request body to MLflow's artifact proxy, cutting it off past ``max_artifact_bytes``."""
        limit = self.max_artifact_bytes
        sent = 0

        async def bounded() -> AsyncIterator[bytes]:
            nonlocal sent
            async for chunk in body:
                sent += len(chunk)
                if sent > limit:
                    raise _TooLargeError
                yield chunk

        url = ARTIFACTS_UPSTREAM + "/" + quote(path, safe="/")
        headers = self._headers(workspace, content_type or "application/octet-stream")
        try:
            r = await self._http.put(url, content=bounded(), headers=headers, timeout=self._artifact_timeout)
        except _TooLargeError as exc:
            raise _too_large(limit) from exc
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, _TooLargeError) or sent > limit:
                raise _too_large(limit) from exc
            raise _unavailable(route, exc) from exc
        if r.status_code >= 400:
            raise upstream_error(r.status_code, r.content, route=route)
        return Response(content=r.content, status_code=r.status_code, media_type="application/json")

    async def delete(self, *, path: str, workspace: str, route: str) -> Response:
        """Delete an artifact (a file or a directory) in MLflow's artifact proxy."""
        upstream = ARTIFACTS_UPSTREAM + "/" + quote(path, safe="/")
        return await self.json_call(
            method="DELETE", path=upstream, query="", body=None, workspace=workspace, route=route
        )

    async def _missing(self, path: str, workspace: str) -> bool:
        """Whether MLflow's listing of ``path``'s directory lacks it (False when the listing fails too)."""
        directory, name = posixpath.split(path)
        params = {"path": directory} if directory else None
        try:
            r = await self._http.get(ARTIFACTS_UPSTREAM, params=params, headers=self._headers(workspace))
            listing = orjson.loads(r.content) if r.status_code == 200 else None
        except (httpx.HTTPError, orjson.JSONDecodeError):
            return False
        if not isinstance(listing, dict):
            return False
        return all(isinstance(f, dict) and f.get("path") != name for f in listing.get("files") or ())

    async def download(self, *, path: str, workspace: str, route: str) -> Response:
        """Stream an artifact from MLflow to the client, cut off past ``max_artifact_bytes``."""
        url = ARTIFACTS_UPSTREAM + "/" + quote(path, safe="/")
        return await self._stream(url, workspace=workspace, route=route, artifact_path=path)

    async def get_stream(self, *, path: str, query: str, workspace: str, route: str) -> Response:
        """Stream one GET of an MLflow path (with its query) to the client, cut off past ``max_artifact_bytes``: the
        web UI's page, static files and artifact downloads (``maestro_api.ui``)."""
        url = httpx.URL(path, query=query.encode("latin-1")) if query else httpx.URL(path)
        return await self._stream(url, workspace=workspace, route=route, artifact_path=None)

    async def _stream(
        self, url: httpx.URL | str, *, workspace: str, route: str, artifact_path: str | None
    ) -> StreamingResponse:
        """One streamed GET; ``artifact_path`` names the artifact-proxy path whose listing tells a missing object
        from MLflow's failure (None: no such check)."""
        limit = self.max_artifact_bytes
        path = artifact_path or str(url)
        request = self._http.build_request("GET", url, headers=self._headers(workspace), timeout=self._artifact_timeout)
        try:
            r = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _unavailable(route, exc) from exc
        try:
            if r.status_code >= 400:
                content = await r.aread()
                if r.status_code >= 500 and artifact_path is not None and await self._missing(artifact_path, workspace):
                    # Object stores (S3) fail a missing key as MLflow's 500; the listing tells it apart.
                    raise MlflowApiError(404, "RESOURCE_DOES_NOT_EXIST", "No such artifact in this tenant.")
                raise upstream_error(r.status_code, content, route=route)
            length = r.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise _too_large(limit)
        except BaseException:
            await r.aclose()
            raise

        async def chunks() -> AsyncIterator[bytes]:
            received = 0
            try:
                async for chunk in r.aiter_raw():
                    received += len(chunk)
                    if received > limit:
                        # Headers are sent: the only honest signal left is a cut connection.
                        raise _TooLargeError(f"artifact {path!r} exceeded {limit} bytes")
                    yield chunk
            finally:
                await r.aclose()

        headers = {k: v for k, v in r.headers.items() if k.lower() in _PASSED_DOWNLOAD_HEADERS}
        return StreamingResponse(chunks(), status_code=r.status_code, headers=headers)
