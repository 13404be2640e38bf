"""The cached-read fast path (pure ASGI) runs the route's own checks, in the route's order, or steps aside."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from maestro_api.api.deps import Authorize
from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError, install_error_handlers
from maestro_api.core.http import HttpHygieneMiddleware
from maestro_api.core.security import Principal, unauthorized
from maestro_api.metrics import AUTHZ_DENIALS, REGISTRY
from maestro_api.registry.fastpath import CachedReadFastPath, cached_read_routes, fast_route
from maestro_api.registry.runtime import FreshDep, get_registry, wants_fresh

pytestmark = pytest.mark.anyio

TENANT = uuid.uuid4()
GOOD_KEY = "good"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class StubAuthenticator:
    def __init__(self, role: str) -> None:
        self.role = role

    async def authenticate(self, authorization: str | None) -> Principal:
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


def build(*, role: str, allow: int = 100) -> tuple[FastAPI, Recorder, StubLimiter]:
    recorder = Recorder()
    test_router = APIRouter(prefix="/things")

    @test_router.get("/{name}")
    async def thing(
        name: Annotated[str, Path(pattern=r"^[a-z]{1,8}$")],
        principal: Annotated[Principal, Authorize("tenants:create")],
        registry: Annotated[Recorder, Depends(get_registry)],
        fresh: FreshDep,
    ) -> Response:
        registry.calls.append((principal.tenant_id, name, fresh))
        return Response(content=b'{"name": "%s"}' % name.encode(), media_type="application/json")

    app = FastAPI()
    install_error_handlers(app)
    route = test_router.routes[0]
    app.add_middleware(
        CachedReadFastPath,
        routes=[fast_route(route, prefix="/v1", simple=frozenset({get_registry, wants_fresh}))],  # type: ignore[arg-type]
    )
    app.add_middleware(HttpHygieneMiddleware, settings=Settings(), tracer=None)
    app.include_router(test_router, prefix="/v1")
    limiter = StubLimiter(allow)
    app.state.authenticator = StubAuthenticator(role)
    app.state.rate_limiter = limiter
    app.state.registry = recorder
    app.state.sessionmaker = None  # the denial audit fails, is counted and logged, and does not change the answer
    return app, recorder, limiter


def h(key: str = GOOD_KEY, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def test_allowed_read_runs_auth_rate_limit_and_the_endpoint_once() -> None:
    app, recorder, limiter = build(role="platform-admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
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


async def test_refusals_come_from_the_same_checks() -> None:
    app, recorder, limiter = build(role="viewer", allow=2)
    denials = AUTHZ_DENIALS.labels(permission="tenants:create")._value.get()  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
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


async def test_what_it_does_not_recognise_goes_to_fastapi_unchanged() -> None:
    app, recorder, limiter = build(role="platform-admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        # A name that fails the route's pattern: FastAPI's own 422 (counted once, by FastAPI's dependencies).
        r = await c.get("/v1/things/ABC", headers=h())
        assert r.status_code == 422
        assert limiter.counted == 1
        assert (await c.get("/v1/things/abc/more", headers=h())).status_code == 404
        assert (await c.post("/v1/things/abc", headers=h())).status_code == 405
    assert recorder.calls == []


async def _unknown(request: Request) -> None:
    return None


def test_routes_it_cannot_serve_exactly_are_refused_at_startup() -> None:
    r = APIRouter()

    @r.get("/q/{name}")
    async def with_query(
        name: Annotated[str, Path(pattern="^[a-z]+$")],
        principal: Annotated[Principal, Authorize("models:read")],
        page: Annotated[int, Query()] = 1,
    ) -> None: ...

    @r.get("/nopattern/{name}")
    async def no_pattern(name: str, principal: Annotated[Principal, Authorize("models:read")]) -> None: ...

    @r.get("/unknown/{name}")
    async def unknown_dep(
        name: Annotated[str, Path(pattern="^[a-z]+$")],
        principal: Annotated[Principal, Authorize("models:read")],
        other: Annotated[Any, Depends(_unknown)],
    ) -> None: ...

    @r.get("/noauth/{name}")
    async def no_auth(name: Annotated[str, Path(pattern="^[a-z]+$")], request: Request) -> None: ...

    simple = frozenset({get_registry, wants_fresh})
    expected = ("only path parameters", "declares no pattern", "does not know", "Authorize")
    for route, why in zip(r.routes, expected, strict=True):
        with pytest.raises(ValueError, match=why):
            fast_route(route, prefix="", simple=simple)  # type: ignore[arg-type]


def test_the_registry_table_matches_the_routes() -> None:
    routes = {r.template: r for r in cached_read_routes()}
    assert set(routes) == {
        "/v1/models/{name}",
        "/v1/models/{name}/versions/{version}",
        "/v1/models/{name}/aliases/{alias}",
    }
    assert {r.check.permission for r in routes.values()} == {"models:read", "versions:read"}
    version = routes["/v1/models/{name}/versions/{version}"].regex
    assert version.fullmatch("/v1/models/churn/versions/12")
    assert not version.fullmatch("/v1/models/churn/versions/0")  # VERSION_PATTERN starts at 1
    assert not routes["/v1/models/{name}"].regex.fullmatch("/v1/models/a/b")
