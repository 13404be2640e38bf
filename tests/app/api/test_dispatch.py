"""The direct reads (``maestro_api.api.dispatch``) run a route's own checks in FastAPI's order, or step aside."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from maestro_api.api.deps import Authorize, Requirement
from maestro_api.api.dispatch import DirectReads, direct, direct_routes, may_overlap
from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError, install_error_handlers
from maestro_api.core.http import HttpHygieneMiddleware
from maestro_api.core.security import Principal, unauthorized
from maestro_api.main import create_app
from maestro_api.metrics import AUTHZ_DENIALS, REGISTRY
from maestro_api.registry.runtime import FreshDep, get_registry

pytestmark = pytest.mark.anyio

TENANT = uuid.uuid4()
GOOD_KEY = "good"


class StubAuthenticator:
    def __init__(self, role: str) -> None:
        self.role = role

    async def authenticate(self, authorization: str | None, *, client: str | None = None) -> Principal:
        if authorization != f"Bearer {GOOD_KEY}":
            raise unauthorized("invalid_key", "The API key is not valid.")
        return Principal("api_key", "k1", TENANT, "acme", "free", self.role)


class StubLimiter:
    def __init__(self, allow: int) -> None:
        self.allow = allow
        self.counted = 0

    async def check(self, principal: Principal) -> None:
        self.counted += 1
        if self.counted > self.allow:
            raise ProblemError(429, "Too Many Requests", "slow down", headers={"Retry-After": "7"})


class Recorder:
    """Stands in for the registry: records what the endpoint was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, str, bool]] = []


def things_router() -> APIRouter:
    router = APIRouter(prefix="/things")

    @router.get("/{name}")
    @direct
    async def thing(
        name: Annotated[str, Path(pattern=r"^[a-z]{1,8}$")],
        principal: Annotated[Principal, Authorize("tenants:create")],
        registry: Annotated[Recorder, Depends(get_registry)],
        fresh: FreshDep,
    ) -> Response:
        registry.calls.append((principal.tenant_id, name, fresh))
        return Response(content=b'{"name": "%s"}' % name.encode(), media_type="application/json")

    return router


def build(*, role: str, allow: int = 100) -> tuple[FastAPI, Recorder, StubLimiter]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(things_router(), prefix="/v1")
    app.add_middleware(DirectReads, routes=direct_routes(app.routes))
    app.add_middleware(HttpHygieneMiddleware, settings=Settings(), tracer=None)
    recorder, limiter = Recorder(), StubLimiter(allow)
    app.state.authenticator = StubAuthenticator(role)
    app.state.rate_limiter = limiter
    app.state.registry = recorder
    app.state.sessionmaker = None  # the denial audit fails, is counted and logged, and does not change the answer
    return app, recorder, limiter


def h(key: str = GOOD_KEY, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_an_allowed_read_runs_authentication_rate_limit_and_the_endpoint_once() -> None:
    app, recorder, limiter = build(role="platform-admin")
    async with client(app) as c:
        r = await c.get("/v1/things/abc", headers=h())
        assert r.status_code == 200 and r.json() == {"name": "abc"}
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]
        r = await c.get("/v1/things/abc", headers=h(**{"Cache-Control": "no-cache"}))
        assert r.status_code == 200
    assert recorder.calls == [(TENANT, "abc", False), (TENANT, "abc", True)]
    assert limiter.counted == 2
    assert REGISTRY.get_sample_value(
        "maestro_http_requests_total", {"method": "GET", "route": "/v1/things/{name}", "status": "200"}
    )


async def test_refusals_come_from_the_same_checks_and_the_apps_handlers() -> None:
    app, recorder, limiter = build(role="viewer", allow=2)
    denials = AUTHZ_DENIALS.labels(permission="tenants:create")._value.get()  # type: ignore[attr-defined]
    async with client(app) as c:
        r = await c.get("/v1/things/abc", headers=h("wrong"))
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert "www-authenticate" in r.headers
        assert (await c.get("/v1/things/abc")).status_code == 401
        r = await c.get("/v1/things/abc", headers=h())
        assert r.status_code == 403 and "tenants:create" in r.json()["detail"]
        assert r.json()["instance"] == "/v1/things/abc"
        assert (await c.get("/v1/things/abc", headers=h())).status_code == 403
        r = await c.get("/v1/things/abc", headers=h())  # the third counted request: over the stub's limit
        assert (r.status_code, r.headers["retry-after"]) == (429, "7")
    assert recorder.calls == []
    assert AUTHZ_DENIALS.labels(permission="tenants:create")._value.get() == denials + 2  # type: ignore[attr-defined]
    assert limiter.counted == 3  # 401s are not counted; every authenticated request is, once


async def test_what_it_does_not_serve_goes_to_fastapi_unchanged() -> None:
    app, recorder, limiter = build(role="platform-admin")
    async with client(app) as c:
        # A name that fails the route's pattern: FastAPI's own 422 (counted once, by FastAPI's dependencies).
        r = await c.get("/v1/things/ABC", headers=h())
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["path", "name"]
        assert limiter.counted == 1
        assert (await c.get("/v1/things/abc/more", headers=h())).status_code == 404
        assert (await c.post("/v1/things/abc", headers=h())).status_code == 405
    assert recorder.calls == []
    # With dependency overrides (a test double) FastAPI resolves the route, so the override applies.
    other = Recorder()
    app.dependency_overrides[get_registry] = lambda: other
    async with client(app) as c:
        assert (await c.get("/v1/things/abc", headers=h())).status_code == 200
    assert recorder.calls == [] and other.calls == [(TENANT, "abc", False)]


async def test_an_inclusions_dependencies_are_part_of_the_plan() -> None:
    seen: list[str] = []

    async def gate(request: Request) -> None:
        seen.append(request.url.path)

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(things_router(), prefix="/v1", dependencies=[Depends(gate)])
    (route,) = direct_routes(app.routes)
    assert gate in [step.call for step in route.plan.steps]
    app.add_middleware(DirectReads, routes=[route])
    app.state.authenticator, app.state.rate_limiter, app.state.registry = (
        StubAuthenticator("platform-admin"),
        StubLimiter(10),
        Recorder(),
    )
    async with client(app) as c:
        assert (await c.get("/v1/things/abc", headers=h())).status_code == 200
    assert seen == ["/v1/things/abc"]


async def _request_only(request: Request) -> None:
    return None


async def _generator(request: Request) -> AsyncIterator[None]:
    yield None


def _sync(request: Request) -> None:
    return None


def _refused(declare: Any) -> str:
    router = APIRouter()
    declare(router)
    app = FastAPI()
    app.include_router(router)
    with pytest.raises(ValueError) as refused:
        direct_routes(app.routes)
    return str(refused.value)


Name = Annotated[str, Path(pattern="^[a-z]+$")]
Reader = Annotated[Principal, Authorize("models:read")]


def test_routes_it_cannot_serve_exactly_are_refused_when_the_table_is_built() -> None:
    def with_query(r: APIRouter) -> None:
        @r.get("/q/{name}")
        @direct
        async def endpoint(name: Name, principal: Reader, page: Annotated[int, Query()] = 1) -> Response: ...

    def no_pattern(r: APIRouter) -> None:
        @r.get("/p/{name}")
        @direct
        async def endpoint(name: str, principal: Reader) -> Response: ...

    def sync_dependency(r: APIRouter) -> None:
        @r.get("/s/{name}")
        @direct
        async def endpoint(name: Name, other: Annotated[None, Depends(_sync)]) -> Response: ...

    def yield_dependency(r: APIRouter) -> None:
        @r.get("/y/{name}")
        @direct
        async def endpoint(name: Name, other: Annotated[None, Depends(_generator)]) -> Response: ...

    def model_answer(r: APIRouter) -> None:
        @r.get("/m/{name}")
        @direct
        async def endpoint(name: Name, principal: Reader) -> dict[str, str]: ...

    def not_get(r: APIRouter) -> None:
        @r.put("/w/{name}")
        @direct
        async def endpoint(name: Name, principal: Reader) -> Response: ...

    def shadowed(r: APIRouter) -> None:
        @r.get("/o/special")
        async def first() -> JSONResponse: ...

        @r.get("/o/{name}")
        @direct
        async def endpoint(name: Name, principal: Reader) -> Response: ...

    assert "other than path parameters" in _refused(with_query)
    assert "declares no pattern" in _refused(no_pattern)
    assert "_sync: not a plain async callable" in _refused(sync_dependency)
    assert "_generator: not a plain async callable" in _refused(yield_dependency)
    assert "does not return a Response" in _refused(model_answer)
    assert "only GET routes" in _refused(not_get)
    assert "/o/special could match the same paths" in _refused(shadowed)


def test_an_unmarked_route_and_another_methods_route_on_the_same_path_are_fine() -> None:
    router = APIRouter()

    @router.get("/t/{name}")
    @direct
    async def read(name: Name, principal: Reader, other: Annotated[None, Depends(_request_only)]) -> Response: ...

    @router.patch("/t/{name}")
    async def change(name: Name) -> Response: ...

    @router.get("/t/{name}/sub")
    async def sub(name: Name) -> Response: ...

    app = FastAPI()
    app.include_router(router)
    (route,) = direct_routes(app.routes)
    assert route.template == "/t/{name}"
    assert route.regex.fullmatch("/t/abc") and not route.regex.fullmatch("/t/ABC")


def test_may_overlap() -> None:
    assert may_overlap("/v1/models/{name}", "/v1/models/special")
    assert may_overlap("/v1/models/{name}", "/v1/{kind}/x")
    assert may_overlap("/v1/models/{name}", "/v1/{rest:path}")
    assert not may_overlap("/v1/models/{name}", "/v1/models/{name}/versions")
    assert not may_overlap("/v1/models/{name}", "/v1/runs/{run_id}")
    assert not may_overlap("/v1/models/{name}", "/mlflow/{path:path}")


def test_the_apps_direct_reads_are_the_registrys_reads_of_one_object() -> None:
    routes = {r.template: r for r in direct_routes(create_app(Settings()).routes)}
    assert set(routes) == {
        "/v1/experiments/{experiment_id}",
        "/v1/runs/{run_id}",
        "/v1/models/{name}",
        "/v1/models/{name}/versions/{version}",
        "/v1/models/{name}/aliases/{alias}",
    }
    version = routes["/v1/models/{name}/versions/{version}"]
    assert version.regex.fullmatch("/v1/models/churn/versions/12")
    assert not version.regex.fullmatch("/v1/models/churn/versions/0")  # VERSION_PATTERN starts at 1
    assert not routes["/v1/models/{name}"].regex.fullmatch("/v1/models/a/b")
    # The plan is the route's own dependency tree in FastAPI's order: the credential, then the principal
    # (authentication and rate limit), the permission check, then what the endpoint takes.
    calls = [repr(s.call) if isinstance(s.call, Requirement) else _name(s.call) for s in version.plan.steps]
    assert calls == [
        "BearerScheme",
        "get_current_principal",
        "PermissionCheck('versions:read')",
        "get_registry",
        "wants_fresh",
    ]
    assert [name for name, _ in version.plan.endpoint.args] == ["principal", "registry", "fresh"]


def _name(call: Any) -> str:
    return str(getattr(call, "__name__", type(call).__name__))
