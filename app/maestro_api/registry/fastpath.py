"""The cached registry reads without FastAPI's routing and dependency solving: a pure ASGI middleware.

A cached read (``GET /v1/models/{name}``, its versions and aliases) is the API's hot path. Behind FastAPI it
cost about 4 ms of CPU, most of it in the router (which tries every route of the app in turn, twice per nested
router) and in dependency solving, not in the work itself (one cached principal, two rate-limit round trips and
one cache ``HMGET``). This middleware answers exactly those routes itself, running the *same* code:

- the route's own dependency callables (``get_current_principal``: authentication, ``request.state.principal``
  and the rate limit; the route's ``Authorize`` check, which audits denials; ``get_registry``; ``wants_fresh``)
  and the route's own endpoint function;
- the path parameters validated with the patterns the route itself declares, read from the route at startup;
- errors rendered by the app's own problem handlers.

Anything it does not recognise exactly (another method or path, a parameter that fails its pattern, a route
whose signature has changed) is passed on to FastAPI untouched, so a refusal or a 422 comes from the normal
path. At startup the table is built from the routes and refuses any route with a dependency or parameter kind
it does not know, so a changed route fails loudly instead of skipping a check.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import Response

from maestro_api.api.deps import _PermissionCheck, get_current_principal
from maestro_api.core.errors import ProblemError, pool_timeout_handler, problem_handler
from maestro_api.core.http import ASGIApp, Receive, Scope, Send

# Dependencies that take only the request and do no I/O of their own (resolved by calling them).
_Simple = Callable[[Request], Awaitable[Any]]


@dataclass(frozen=True)
class FastRoute:
    """One route served by the fast path.

    Args:
        template: the full path template (the ``route`` label of the HTTP metrics), e.g. ``/v1/models/{name}``.
        regex: the full path with one named group per path parameter, each with the route's own pattern.
        endpoint: the route's endpoint function.
        principal_param: the endpoint's parameter that receives the principal (checked by ``check``).
        check: the route's ``Authorize`` callable.
        simple: the endpoint's other dependency parameters and their request-only callables.
    """

    template: str
    regex: re.Pattern[str]
    endpoint: Callable[..., Awaitable[Response]]
    principal_param: str
    check: _PermissionCheck
    simple: tuple[tuple[str, _Simple], ...]


def _param_pattern(field_info: Any, name: str, template: str) -> str:
    for meta in getattr(field_info, "metadata", ()):
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            return pattern.removeprefix("^").removesuffix("$")
    raise ValueError(f"fast path: {template}: path parameter {name!r} declares no pattern")


def fast_route(route: APIRoute, *, prefix: str, simple: frozenset[Callable[..., Any]]) -> FastRoute:
    """Build the fast path's entry for ``route``; raise ``ValueError`` if it needs anything the fast path lacks."""
    template = prefix + route.path
    if route.methods != {"GET"}:
        raise ValueError(f"fast path: {template}: only GET routes")
    d = route.dependant
    if d.query_params or d.header_params or d.cookie_params or d.body_params:
        raise ValueError(f"fast path: {template}: only path parameters and dependencies are supported")
    regex = re.escape(template)
    for p in d.path_params:
        group = re.escape("{" + p.name + "}")
        regex = regex.replace(group, f"(?P<{p.name}>{_param_pattern(p.field_info, p.name, template)})")
    checks = [dep for dep in d.dependencies if isinstance(dep.call, _PermissionCheck)]
    others = [dep for dep in d.dependencies if not isinstance(dep.call, _PermissionCheck)]
    if len(checks) != 1 or not checks[0].name:
        raise ValueError(f"fast path: {template}: needs exactly one Authorize parameter")
    check = checks[0].call
    assert isinstance(check, _PermissionCheck)
    if [sub.call for sub in checks[0].dependencies] != [get_current_principal]:
        raise ValueError(f"fast path: {template}: the Authorize parameter must depend on get_current_principal only")
    if any(dep.call not in simple or not dep.name or dep.dependencies for dep in others):
        raise ValueError(f"fast path: {template}: a dependency the fast path does not know")
    return FastRoute(
        template=template,
        regex=re.compile(regex),
        endpoint=route.endpoint,
        principal_param=checks[0].name,
        check=check,
        simple=tuple((str(dep.name), dep.call) for dep in others),  # type: ignore[misc]
    )


def cached_read_routes() -> list[FastRoute]:
    """The registry's cached reads of one object: a model, a version, the version an alias points at."""
    from maestro_api.api.main import api_router
    from maestro_api.api.routes import models
    from maestro_api.registry.runtime import get_registry, wants_fresh

    simple = frozenset({get_registry, wants_fresh})
    endpoints = (models.get_model, models.get_version, models.get_alias)
    by_endpoint = {r.endpoint: r for r in models.router.routes if isinstance(r, APIRoute)}
    return [fast_route(by_endpoint[e], prefix=api_router.prefix, simple=simple) for e in endpoints]


class CachedReadFastPath:
    """Pure ASGI middleware serving ``routes`` (GET only) without FastAPI's router; everything else passes on."""

    def __init__(self, app: ASGIApp, *, routes: list[FastRoute]) -> None:
        self.app = app
        self.routes = routes
        self.prefixes = tuple({r.template.split("{", 1)[0] for r in routes})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        for route in self.routes:
            match = route.regex.fullmatch(path)
            if match is not None:
                break
        else:
            await self.app(scope, receive, send)
            return
        scope["maestro.route"] = route.template
        request = Request(scope, receive)
        try:
            principal = await get_current_principal(request, None)
            kwargs: dict[str, Any] = {route.principal_param: await route.check(request, principal)}
            for name, call in route.simple:
                kwargs[name] = await call(request)
            response = await route.endpoint(**match.groupdict(), **kwargs)
        except ProblemError as exc:
            response = await problem_handler(request, exc)
        except PoolTimeoutError as exc:
            response = await pool_timeout_handler(request, exc)
        await response(scope, receive, send)
