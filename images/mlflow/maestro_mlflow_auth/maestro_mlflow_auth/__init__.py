"""MLflow behind Maestro: the tracking server answers only the Maestro API.

`mlflow server --app-name maestro-auth` serves MLflow's own app wrapped so that every request, health checks
included, must carry `Authorization: Bearer <token>`, the token in MAESTRO_MLFLOW_TOKEN (the API sends the same
setting). Anything else gets 401 before MLflow sees it: MLflow lists every workspace and serves any tenant's data to
whoever sets the workspace header, so only the API, which sets that header from an authenticated principal, may
talk to it. The token is compared in constant time, removed from the request before MLflow runs, and never logged.

Under gunicorn or waitress (WSGI) the Flask app is wrapped; under uvicorn (MLflow's default) the whole ASGI app,
FastAPI routes included.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

TOKEN_ENV = "MAESTRO_MLFLOW_TOKEN"  # noqa: S105 - the variable's name, not a token
MIN_TOKEN_LENGTH = 32

_BODY = json.dumps({"error_code": "UNAUTHENTICATED", "message": "This server answers the Maestro API only."}).encode()
_HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(_BODY))),
    ("WWW-Authenticate", 'Bearer realm="mlflow"'),
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TokenError(RuntimeError):
    """The token is missing or too short; MLflow must not start without it."""


def read_token(environ: MutableMapping[str, str] = os.environ) -> bytes:
    """The token from MAESTRO_MLFLOW_TOKEN; raises TokenError (naming the variable, never the value)."""
    token = environ.get(TOKEN_ENV, "").strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(f"{TOKEN_ENV} must hold the Maestro API's token ({MIN_TOKEN_LENGTH}+ characters)")
    return token.encode()


def authorized(header: str | bytes | None, token: bytes) -> bool:
    """True if an Authorization header value is `Bearer <token>` (scheme case-insensitive, constant-time)."""
    if header is None:
        return False
    raw = header.encode("latin-1") if isinstance(header, str) else header
    scheme, _, value = raw.strip().partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token)


class BearerTokenWSGI:
    """WSGI middleware: 401 unless the request carries the token; the header is removed before the app runs."""

    def __init__(self, app: WSGIApp, token: bytes) -> None:
        self.app = app
        self._token = token

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not authorized(environ.pop("HTTP_AUTHORIZATION", None), self._token):
            start_response("401 Unauthorized", _HEADERS)
            return [_BODY]
        return self.app(environ, start_response)


class BearerTokenASGI:
    """ASGI middleware: the same check for HTTP and WebSocket; lifespan events pass through."""

    def __init__(self, app: ASGIApp, token: bytes) -> None:
        self.app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"authorization"]
        given = next((v for k, v in scope.get("headers", []) if k.lower() == b"authorization"), None)
        if not authorized(given, self._token):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            raw = [(k.lower().encode(), v.encode()) for k, v in _HEADERS]
            await send({"type": "http.response.start", "status": 401, "headers": raw})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app({**scope, "headers": headers}, receive, send)


def create_app() -> Any:
    """The `maestro-auth` MLflow app: MLflow's server, answering only requests that carry the token."""
    token = read_token()
    from mlflow.server import app as flask_app

    if os.environ.get("_MLFLOW_SGI_NAME") == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return BearerTokenASGI(create_fastapi_app(flask_app), token)
    flask_app.wsgi_app = BearerTokenWSGI(flask_app.wsgi_app, token)  # type: ignore[method-assign]
    return flask_app
