"""The one ASGI middleware: request id, client address, security headers, body size limit, metrics, the request's
span, and the last-resort 500 as problem+json (so even a crash carries a request id and no stack trace).

The client address (``request.state.client_address``: the audit log's, and what failed authentications count on)
is the peer's, or the ``X-Real-IP`` a trusted proxy (``trusted_proxies``: the edge) sets.

Pure ASGI rather than BaseHTTPMiddleware: it runs on every request, so it must stay cheap.

The body size limit (``max_body_bytes``) applies to every request except exactly one route: ``PUT`` on the MLflow
artifact proxy (``/mlflow/api/2.0/mlflow-artifacts/artifacts/<path>``). That route streams artifacts to MLflow
and enforces ``mlflow_proxy_max_artifact_bytes`` itself (Content-Length checked before anything is read, chunked
bodies counted as they stream), so its refusals come in MLflow's error shape, which the stock client reads.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from ipaddress import ip_address
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from maestro_api.core.config import Settings
from maestro_api.core.errors import PROBLEM_CONTENT_TYPE, problem_bytes
from maestro_api.core.telemetry import request_id_var
from maestro_api.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("maestro_api.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ROUTE_LABEL = "maestro.route"
"""Scope key: the route template of a request answered before FastAPI's router (``maestro_api.api.dispatch``)."""
# The one route exempt from max_body_bytes (see the module docstring); the trailing slash requires a path.
ARTIFACT_UPLOAD_PREFIX = "/mlflow/api/2.0/mlflow-artifacts/artifacts/"


def body_limit_exempt(scope: Scope) -> bool:
    """True for exactly the MLflow artifact upload route, which bounds its body itself while streaming."""
    return scope["method"] == "PUT" and str(scope["path"]).startswith(ARTIFACT_UPLOAD_PREFIX)


def client_address(scope: Scope, real_ip: bytes | None, settings: Settings) -> str:
    """The request's client: the peer, or the ``X-Real-IP`` of a peer that is a trusted proxy (when it is an IP)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "-"
    if real_ip is None or not settings.is_trusted_proxy(peer):
        return peer
    try:
        return str(ip_address(real_ip.decode("latin-1").strip()))
    except ValueError:
        return peer


# Headers a response may set itself, which then replace the defaults below: the web UI's page has its own CSP and
# referrer policy, its static files are cached (maestro_api.ui). Every other header of the list is always added.
OWN_VALUE_WINS = frozenset({b"content-security-policy", b"cache-control", b"referrer-policy"})


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """Headers on every response. The API serves only JSON, so the CSP forbids everything."""
    headers = {
        "strict-transport-security": f"max-age={settings.hsts_max_age_seconds}; includeSubDomains",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "permissions-policy": "accelerometer=(), camera=(), geolocation=(), gyroscope=(), microphone=(), "
        "payment=(), usb=()",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
        "cache-control": "no-store",
    }
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class HttpHygieneMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings, tracer: trace.Tracer | None) -> None:
        self.app = app
        self.settings = settings
        self.max_body = settings.max_body_bytes
        self.headers = security_headers(settings)
        self.tracer = tracer
        self.log_requests = settings.log_requests
        # Metric children by label values: ``labels()`` costs a lock and a dict build per call, and the label
        # sets are bounded (route templates x methods x statuses), so each child is looked up once.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = ""
        content_length = None
        real_ip = None
        traceparent = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if _REQUEST_ID.match(candidate) else ""
            elif name == b"content-length":
                content_length = value
            elif name == b"traceparent":
                traceparent = True
            elif name == b"x-real-ip":
                real_ip = value
        request_id = request_id or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_address"] = client_address(scope, real_ip, self.settings)
        token = request_id_var.set(request_id)
        extra_headers = [*self.headers, (b"x-request-id", request_id.encode())]
        status = 500
        started = False
        too_large = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if too_large:
                # The app saw a truncated body (its answer is moot): answer 413 instead, once.
                if message["type"] == "http.response.start" and not started:
                    await send_problem(413, f"The request body exceeds {self.max_body} bytes.")
                return
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                own = message.get("headers", ())
                names = {name for name, _ in own} & OWN_VALUE_WINS
                added = [h for h in extra_headers if h[0] not in names] if names else extra_headers
                message["headers"] = [*own, *added]
            await send(message)

        async def send_problem(code: int, detail: str | None = None) -> None:
            nonlocal status, started
            body = problem_bytes(code, detail=detail)
            status, started = code, True
            headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode()), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": code, "headers": [*headers, *extra_headers]})
            await send({"type": "http.response.body", "body": body})

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # Raising here would be turned into a 400 by the framework's body parsing; stop reading instead.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        span = None
        ctx_token = None
        if self.tracer is not None:
            parent = propagate.extract(_carrier(scope["headers"])) if traceparent else None
            span = self.tracer.start_span(
                f"{scope['method']} {scope['path']}",
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
            )
            ctx_token = otel_context.attach(trace.set_span_in_context(span))
        try:
            if body_limit_exempt(scope):
                await self.app(scope, receive, send_wrapper)
            elif content_length is not None and (not content_length.isdigit() or int(content_length) > self.max_body):
                await send_problem(413, f"The request body exceeds {self.max_body} bytes.")
            else:
                await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            log.exception("unhandled error")
            if span is not None:
                span.set_status(Status(StatusCode.ERROR))
            if too_large and not started:
                await send_problem(413, f"The request body exceeds {self.max_body} bytes.")
            elif not started:
                await send_problem(500, "An internal error occurred; quote the request id when reporting it.")
        finally:
            route = route_template(scope)
            method = scope["method"]
            elapsed = time.perf_counter() - start
            counter = self._counters.get((method, route, status))
            if counter is None:
                counter = self._counters[(method, route, status)] = HTTP_REQUESTS.labels(
                    method=method, route=route, status=str(status)
                )
            counter.inc()
            histogram = self._histograms.get((method, route))
            if histogram is None:
                histogram = self._histograms[(method, route)] = HTTP_REQUEST_DURATION.labels(method=method, route=route)
            histogram.observe(elapsed)
            if self.log_requests:
                log.info(
                    "request",
                    extra={"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1e3, 2)},
                )
            if span is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
            if ctx_token is not None:
                otel_context.detach(ctx_token)
            request_id_var.reset(token)


def route_template(scope: Scope) -> str:
    """The matched route's full path template (``/v1/models/{name}``), or ``unmatched`` (bounded cardinality)."""
    served = scope.get(ROUTE_LABEL)
    if served:
        return str(served)
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    if not path:
        return "unmatched"
    # A mounted router's paths are relative to its mount: the mount's prefix is what it added to root_path.
    root_path = str(scope.get("root_path", ""))
    mount = root_path.removeprefix(str(scope.get("app_root_path", root_path)))
    return mount + str(path)


def _carrier(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in (b"traceparent", b"tracestate")}
