"""The hot reads served ahead of FastAPI's router: ``DirectReads``, and ``@direct`` to mark a route for it.

A cached read of one registry object (``GET /v1/models/{name}`` and the like) is the API's hot path. Its work is
small (one cached principal, the rate-limit round trips, one cache ``HMGET``); behind FastAPI the router and the
generic dependency solver cost more than that work. The route layout (``maestro_api.api.main``) keeps the
router's share small but not small enough: served by the router, even with its dependencies compiled, case (a) of
``make bench-api`` falls well over 5 % below this shortcut (bench/api/tuning.md). So these few routes are served
here, from what FastAPI itself built:

- which routes: those whose endpoint is marked ``@direct``, found in the app's own routes (``iter_route_contexts``);
- what runs: each route's dependency tree as FastAPI resolved it for the app (the inclusion's dependencies too),
  compiled once into a ``Plan`` of plain awaits in FastAPI's order, each dependency once per request, then the
  endpoint; so authentication, the rate limit and the ``Authorize`` check (which audits denials) run as always;
- errors: rendered by the app's own exception handlers.

Building the table refuses (``ValueError``, at startup) a marked route the plan cannot run exactly as FastAPI
would (anything but a ``GET`` with ``str`` path parameters that declare a pattern, ``async`` dependencies that take
only the request or other such dependencies, an ``async`` endpoint returning a ``Response``) and a marked route
whose path another route could also match. At request time anything else (another method or path, a parameter
that fails its pattern, a ``root_path``, an app with ``dependency_overrides``) goes to FastAPI untouched.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from maestro_api.core.http import ROUTE_LABEL

_MARK = "maestro_direct"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Awaitable[Response]])


def direct(endpoint: _Endpoint) -> _Endpoint:
    """Mark a route's endpoint to be served by ``DirectReads`` (apply below the router's decorator)."""
    setattr(endpoint, _MARK, True)
    return endpoint


@dataclass(frozen=True)
class Step:
    """One call of a plan: the request to each of ``request_params``, earlier steps' results to ``args``.

    Args:
        call: a dependency callable, or the endpoint.
        request_params: the parameters that receive the request (``Request`` or ``HTTPConnection``).
        args: the parameters that receive earlier steps' results, with the step's index.
    """

    call: Callable[..., Awaitable[Any]]
    request_params: tuple[str, ...]
    args: tuple[tuple[str, int], ...]

    def kwargs(self, request: Request, results: list[Any]) -> dict[str, Any]:
        found = {name: results[i] for name, i in self.args}
        for name in self.request_params:
            found[name] = request
        return found


@dataclass(frozen=True)
class Plan:
    """A route's request, compiled: its dependencies in FastAPI's order, then its endpoint.

    Args:
        steps: every dependency of the tree once (FastAPI's per-request cache), sub-dependencies first.
        endpoint: the endpoint's call; the path parameters are passed to it by name.
    """

    steps: tuple[Step, ...]
    endpoint: Step

    async def run(self, request: Request, path_params: dict[str, str]) -> Response:
        results: list[Any] = []
        for step in self.steps:
            results.append(await step.call(**step.kwargs(request, results)))
        response = await self.endpoint.call(**self.endpoint.kwargs(request, results), **path_params)
        if not isinstance(response, Response):
            raise TypeError(f"a direct route's endpoint returned {type(response).__name__}, not a Response")
        return response


@dataclass(frozen=True)
class DirectRoute:
    """One route served by ``DirectReads``.

    Args:
        template: the full path template (the ``route`` label of the HTTP metrics), e.g. ``/v1/models/{name}``.
        regex: the full path with one named group per path parameter, each with the parameter's own pattern.
        plan: the compiled request.
    """

    template: str
    regex: re.Pattern[str]
    plan: Plan


def _is_plain_async(call: Any) -> bool:
    """An ``async def`` function, or an instance whose ``__call__`` is one (no generator, no thread pool)."""
    if inspect.isclass(call) or inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call):
        return False
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


def _request_params(d: Dependant) -> tuple[str, ...]:
    return tuple(name for name in (d.request_param_name, d.http_connection_param_name) if name is not None)


def _param(d: Dependant, kind: str) -> str | None:
    name: str | None = getattr(d, f"{kind}_param_name")
    return name


def _check_params(d: Dependant, what: str, *, path_params: bool) -> None:
    if d.query_params or d.header_params or d.cookie_params or d.body_params or (d.path_params and not path_params):
        raise ValueError(f"{what}: takes request parameters other than path parameters")
    special = [n for n in ("websocket", "response", "background_tasks", "security_scopes") if _param(d, n)]
    if special:
        raise ValueError(f"{what}: takes {special}")


def compile_plan(dependant: Dependant, endpoint: Callable[..., Any], where: str) -> Plan:
    """The plan of a route's dependency tree; ``ValueError`` naming the first thing it cannot run exactly."""
    steps: list[Step] = []
    index: dict[Any, int] = {}

    def args_of(d: Dependant) -> tuple[tuple[str, int], ...]:
        found = []
        for sub in d.dependencies:
            i = step_of(sub)  # run even when unnamed (``dependencies=[...]``), passed on when named
            if sub.name is not None:
                found.append((sub.name, i))
        return tuple(found)

    def step_of(d: Dependant) -> int:
        if d.call in index:
            return index[d.call]
        what = f"{where}: dependency {getattr(d.call, '__name__', type(d.call).__name__)}"
        if not _is_plain_async(d.call) or d.concurrency is not None or not d.use_cache:
            raise ValueError(f"{what}: not a plain async callable")
        _check_params(d, what, path_params=False)
        args = args_of(d)
        index[d.call] = len(steps)
        steps.append(Step(call=d.call, request_params=_request_params(d), args=args))  # type: ignore[arg-type]
        return index[d.call]

    if not inspect.iscoroutinefunction(endpoint):
        raise ValueError(f"{where}: the endpoint is not async")
    returns = get_type_hints(endpoint).get("return")
    if not (inspect.isclass(returns) and issubclass(returns, Response)):
        raise ValueError(f"{where}: the endpoint does not return a Response")
    _check_params(dependant, where, path_params=True)
    endpoint_step = Step(endpoint, _request_params(dependant), args_of(dependant))  # fills ``steps``
    return Plan(steps=tuple(steps), endpoint=endpoint_step)


def _pattern(field: Any, where: str) -> str:
    if field.field_info.annotation is not str:
        raise ValueError(f"{where}: path parameter {field.name!r} is not a str")
    for meta in getattr(field.field_info, "metadata", ()):
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            return pattern.removeprefix("^").removesuffix("$")
    raise ValueError(f"{where}: path parameter {field.name!r} declares no pattern")


def _segments(template: str) -> list[str]:
    return template.strip("/").split("/")


def may_overlap(a: str, b: str) -> bool:
    """Whether some path could match both templates (a segment with a parameter matches any value; a ``:path``
    parameter, or a mount, matches the rest of the path)."""
    sa, sb = _segments(a), _segments(b)
    for x, y in zip(sa, sb, strict=False):
        if ":path}" in x or ":path}" in y:
            return True
        if "{" not in x and "{" not in y and x != y:
            return False
    return len(sa) == len(sb)


def _templates(routes: Sequence[BaseRoute]) -> Iterator[tuple[Any, str, set[str] | None]]:
    """(original route, full path template, methods or None for any) of every route of the app."""
    for rc in iter_route_contexts(routes):
        if isinstance(rc.original_route, Mount):
            yield rc.original_route, str(rc.path).rstrip("/") + "/{path:path}", None
        elif rc.path is not None:
            yield rc.original_route, str(rc.path), set(rc.methods or ()) or None


def direct_routes(routes: Sequence[BaseRoute]) -> list[DirectRoute]:
    """The table of ``DirectReads``: every route of ``routes`` (an app's) whose endpoint is marked ``@direct``."""
    found = []
    others = list(_templates(routes))
    for rc in iter_route_contexts(routes):
        if not getattr(rc.endpoint, _MARK, False):
            continue
        template = str(rc.path)
        where = f"direct route {template}"
        if set(rc.methods or ()) != {"GET"}:
            raise ValueError(f"{where}: only GET routes")
        for route, other, methods in others:
            gets = methods is None or "GET" in methods
            if route is not rc.original_route and gets and may_overlap(template, other):
                raise ValueError(f"{where}: {other} could match the same paths")
        dependant: Dependant = rc.dependant
        regex = re.escape(template)
        for p in dependant.path_params:
            regex = regex.replace(re.escape("{" + p.name + "}"), f"(?P<{p.name}>{_pattern(p, where)})")
        assert rc.endpoint is not None
        plan = compile_plan(dependant, rc.endpoint, where)
        found.append(DirectRoute(template=template, regex=re.compile(regex), plan=plan))
    return found


def _handler(app: Any, exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    handlers = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls in handlers:
            handler: Callable[[Request, Exception], Awaitable[Response]] = handlers[cls]
            return handler
    return None


class DirectReads:
    """Pure ASGI middleware serving ``routes`` (``GET`` only, ``direct_routes``); everything else passes on."""

    def __init__(self, app: ASGIApp, *, routes: list[DirectRoute]) -> None:
        self.app = app
        self.routes = routes
        self.prefixes = tuple({r.template.split("{", 1)[0] for r in routes})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET" or not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        for route in self.routes:
            match = route.regex.fullmatch(path)
            if match is not None:
                break
        else:
            match = None
        if match is None or scope.get("root_path") or getattr(app, "dependency_overrides", None):
            await self.app(scope, receive, send)
            return
        path_params = match.groupdict()
        scope[ROUTE_LABEL] = route.template
        scope["path_params"] = path_params
        request = Request(scope, receive, send)
        try:
            response = await route.plan.run(request, path_params)
        except Exception as exc:
            handler = _handler(app, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)
