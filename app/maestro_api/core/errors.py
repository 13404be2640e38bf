"""RFC 9457 problem details: the one error shape of the API (``application/problem+json``, never a stack trace).

Raise ``ProblemError`` anywhere in a request; ``install_error_handlers`` renders it and turns FastAPI's own
errors (404/405, validation) into the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://maestro.dev/problems/"

log = logging.getLogger("maestro_api.errors")


class ProblemError(Exception):
    """An error answered as problem+json.

    Args:
        status: HTTP status code.
        title: short, human-readable summary of the problem type (does not vary between occurrences).
        detail: explanation specific to this occurrence; must not leak other tenants' data.
        type_: problem type URI; defaults to ``about:blank``-style ``<base><status>``.
        headers: extra response headers (``WWW-Authenticate``, ``Retry-After``, ...).
        extensions: extra members of the problem object (e.g. validation ``errors``).
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        type_: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail or ''}")
        self.status = status
        self.title = title
        self.detail = detail
        self.type_ = type_ or f"{PROBLEM_TYPE_BASE}{status}"
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}}


# The error answers every authenticated route can give, declared in the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Malformed request."),
    401: _problem_doc("Missing or invalid credentials (with WWW-Authenticate)."),
    403: _problem_doc("The principal's role lacks the route's permission."),
    404: _problem_doc("No such object in the caller's tenant."),
    409: _problem_doc("Conflict or quota exceeded."),
    413: _problem_doc("Request body too large."),
    422: _problem_doc("The request does not match the schema."),
    429: _problem_doc("Rate limit exceeded (Retry-After, RateLimit-Limit/Remaining/Reset)."),
    503: _problem_doc("A dependency is unavailable."),
}


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type_: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Render a problem document."""
    body: dict[str, Any] = {
        "type": type_ or f"{PROBLEM_TYPE_BASE}{status}",
        "title": title or _phrase(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions or {})
    return Response(
        content=orjson.dumps(body), status_code=status, headers=dict(headers or {}), media_type=PROBLEM_CONTENT_TYPE
    )


def problem_bytes(status: int, title: str | None = None, detail: str | None = None) -> bytes:
    """The body of a problem document, for the ASGI middleware that answers before FastAPI runs."""
    body: dict[str, Any] = {"type": f"{PROBLEM_TYPE_BASE}{status}", "title": title or _phrase(status), "status": status}
    if detail:
        body["detail"] = detail
    return orjson.dumps(body)


def pool_exhausted() -> ProblemError:
    """The answer when no pooled database connection frees up within ``database_pool_timeout_seconds``: the
    service is overloaded, not broken, so 503 with a short ``Retry-After`` rather than a 500."""
    return ProblemError(
        503,
        "Service Unavailable",
        "All database connections are busy; retry shortly.",
        headers={"Retry-After": "1"},
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type_=exc.type_,
        instance=request.url.path,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _phrase(exc.status_code) else None
    return problem_response(
        exc.status_code, detail=detail, instance=request.url.path, headers=getattr(exc, "headers", None)
    )


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: never echo the submitted input back.
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))}
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "Unprocessable Content",
        "The request does not match the schema.",
        instance=request.url.path,
        extensions={"errors": errors},
    )


async def pool_timeout_handler(request: Request, exc: Exception) -> Response:
    # Wherever the connection was requested (authentication, SessionDep, a route, an audit write), same answer.
    log.warning("database pool exhausted on %s %s", request.method, request.url.path)
    return await problem_handler(request, pool_exhausted())


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the framework knows about as problem+json (500s are rendered by the middleware)."""
    app.add_exception_handler(ProblemError, problem_handler)
    app.add_exception_handler(PoolTimeoutError, pool_timeout_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
