"""The UI's allow list, its router and its headers, without servers."""

from __future__ import annotations

import httpx
import pytest
from fastapi.routing import APIRoute
from maestro_api.api.routes import mlflow_proxy
from maestro_api.core.config import Settings
from maestro_api.main import create_app
from maestro_api.mlflow_proxy.table import ROUTES
from maestro_api.ui import routes
from maestro_api.ui.table import AJAX, PROXIED, UI_ROUTES, ui_path

from tests.app.api.walk import operations

OAUTH = {("GET", "/mlflow/oauth/login"), ("GET", "/mlflow/oauth/callback"), ("GET", "/mlflow/oauth/logout"),
         ("POST", "/mlflow/oauth/logout")}  # fmt: skip


def test_every_rest_call_of_the_ui_is_a_client_proxy_route_served_by_the_same_endpoint() -> None:
    assert {r.path.removeprefix("api/2.0/mlflow/") for r in PROXIED} <= {
        r.path.removeprefix("api/2.0/mlflow/") for r in ROUTES
    }
    client = {(r.path, m): r for r in mlflow_proxy.router.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    ui = {(r.path, m): r for r in routes.router.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    for spec in PROXIED:
        served = ui["/" + ui_path(spec), spec.method]
        assert served.endpoint is client["/" + spec.path, spec.method].endpoint
        assert [d.dependency for d in served.dependencies] == [
            d.dependency for d in client["/" + spec.path, spec.method].dependencies
        ]
    assert all(ui_path(spec).startswith(AJAX) for spec in PROXIED)
    # Nothing that writes runs' contents, uploads or deletes artifacts: the UI does not, so neither does its list.
    assert not {r.path for r in PROXIED} & {"api/2.0/mlflow/runs/log-batch", "api/2.0/mlflow/runs/create"}
    assert all(r.kind == "json" for r in PROXIED)  # fmt: skip


def test_the_uis_routes_are_exactly_its_allow_list() -> None:
    ops = {(op.method, op.path): op for op in operations(create_app(Settings()), ui=True)}
    expected = {(s.method, "/mlflow/" + ui_path(s)) for s in PROXIED} | {
        (r.method, "/mlflow/" + r.path) for r in UI_ROUTES
    }
    assert set(ops) == expected | OAUTH
    for spec in PROXIED:
        assert ops[spec.method, "/mlflow/" + ui_path(spec)].permissions == {spec.permission}
    # Without a permission of their own: the page and static files (a signed-in user of any role), server info (fixed
    # text), GraphQL (its permissions per field, checked by the endpoint) and the sign-in itself.
    free = {path for (_, path), op in ops.items() if not op.permissions}
    assert free == {"/mlflow/", "/mlflow/static-files/{file_path:path}", "/mlflow/ajax-api/3.0/mlflow/server-info",
                    "/mlflow/graphql", *(p for _, p in OAUTH)}  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/mlflow/ajax-api/3.0/mlflow/traces/metrics",
        "/mlflow/ajax-api/3.0/mlflow/assistant/config",
        "/mlflow/ajax-api/2.0/mlflow/users/current",
        "/mlflow/ajax-api/3.0/mlflow/workspaces",
        "/mlflow/ajax-api/3.0/mlflow/gateway/endpoints/list",
        "/mlflow/ajax-api/3.0/mlflow/ui-telemetry",
        "/mlflow/ajax-api/2.0/mlflow/upload-artifact",
        "/mlflow/ajax-api/2.0/mlflow/runs/log-batch",
        "/mlflow/ajax-api/2.0/mlflow-artifacts/artifacts/x",
        "/mlflow/ajax-api/2.0/mlflow/gateway-proxy",
        "/mlflow/get-trace-artifact",
        "/mlflow/version",
        "/mlflow/health",
    ],
)
async def test_what_the_ui_knows_but_does_not_need_is_closed(path: str) -> None:
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://ui.test") as c:
        for method in ("GET", "POST"):
            assert (await c.request(method, path)).status_code in (404, 405), (method, path)


def test_the_pages_policy_allows_no_inline_or_evaluated_script_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in routes.PAGE_CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-eval" not in routes.PAGE_CSP and "http" not in routes.PAGE_CSP


@pytest.mark.parametrize(
    ("file", "immutable"),
    [
        ("static/js/main.c2f5f8d4.js", True),
        ("static/css/2685.f073c5c3.chunk.css", True),
        ("static/media/logo.2b3c4d5e6f.svg", True),
        ("TelemetryLogger.telemetry-worker.d0f8ea2c83c08b63528f.worker.js", True),
        ("favicon.ico", False),
        ("manifest.json", False),
    ],
)
def test_only_content_hashed_files_are_cached_as_immutable(file: str, immutable: bool) -> None:
    assert bool(routes.HASHED.search(file)) is immutable
