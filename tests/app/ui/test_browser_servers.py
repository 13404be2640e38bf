"""The UI in headless Chromium against Maestro on loopback: real PostgreSQL, Redis, an artifact-serving MLflow and
the lab's provider, each scenario straight to the API and through the edge's WAF (the scenarios are
tests/app/ui/browser.py's; tests/lab/test_ui_browser.py runs them through the lab's edge)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from maestro_api.core.config import Settings
from maestro_api.main import create_app
from playwright.sync_api import Browser

from tests.ansible.nginx_waf.edge import missing_prerequisites, running_edge
from tests.app.conftest import ThreadedServer
from tests.app.registry.conftest import Tenant, database_of, make_tenant
from tests.app.ui import browser as scenarios
from tests.app.ui.browser import Logged, Target, browser
from tests.app.ui.conftest import Idp, with_ui
from tests.servers import PgServer

__all__ = ["browser"]

pytestmark = [pytest.mark.servers]


@pytest.fixture
def tenants(proxy_settings: Settings, pg_server: PgServer) -> tuple[Tenant, Tenant]:
    """Two tenants with a key per role (``two_tenants``, for these synchronous tests: Playwright's sync API)."""

    async def make() -> tuple[Tenant, Tenant]:
        db = database_of(proxy_settings)
        a = await make_tenant(proxy_settings, pg_server, db, f"alpha-{secrets.token_hex(3)}")
        b = await make_tenant(proxy_settings, pg_server, db, f"bravo-{secrets.token_hex(3)}")
        return a, b

    return anyio.run(make)


@pytest.fixture(params=["api", "edge"])
def target(request: pytest.FixtureRequest, proxy_settings: Settings, idp: Idp) -> Iterator[Target]:
    """Maestro with the UI on, on loopback: straight to the API over HTTP (``localhost`` is a secure context for
    Chromium, so the ``__Host-`` cookies hold), or through the edge (the nginx_waf role's nginx, ModSecurity and
    OWASP CRS in blocking mode, TLS with its self-signed certificate). The stock client talks to the API directly."""
    server = ThreadedServer(proxy_settings)
    with contextlib.ExitStack() as stack:
        if request.param == "edge":
            missing = missing_prerequisites()
            if missing:
                pytest.fail(f"the edge needs {', '.join(missing)}: run `make bootstrap-test`")
            edge = stack.enter_context(running_edge(server.port))
            origin = f"https://localhost:{edge.https_port}"
        else:
            origin = f"http://localhost:{server.port}"
        server.server.config.app = create_app(with_ui(proxy_settings, idp, ui_origin=origin))
        api = stack.enter_context(server)
        yield Target(origin=origin, idp=idp.url, tracking_uri=f"{api}/mlflow", insecure_tls=request.param == "edge")


@pytest.fixture
def logged(target: Target, tenants: tuple[Tenant, Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Logged:
    """A run of tenant A's data scientist, logged with the stock client."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tenants[0].keys["data-scientist"])
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return scenarios.log_a_run(target.tracking_uri, tmp_path)


def test_a_data_scientist_finds_the_run_its_chart_and_artifact_and_a_viewer_cannot_rename_it(
    target: Target, logged: Logged, tenants: tuple[Tenant, Tenant], idp: Idp, browser: Browser, tmp_path: Path
) -> None:
    a, _ = tenants
    scenarios.a_data_scientists_day(
        browser,
        target,
        logged,
        scientist=idp.user("ada", a.name, "data-scientist"),
        viewer=idp.user("vic", a.name, "viewer"),
        shots=scenarios.screenshots(tmp_path),
    )


def test_another_tenants_run_url_is_not_found_and_sign_out_is_final(
    target: Target, logged: Logged, tenants: tuple[Tenant, Tenant], idp: Idp, browser: Browser
) -> None:
    _, b = tenants
    scenarios.another_tenant_and_sign_out(browser, target, logged, stranger=idp.user("bea", b.name, "data-scientist"))


def test_a_cross_site_form_post_is_refused_while_signed_in(
    target: Target, logged: Logged, tenants: tuple[Tenant, Tenant], idp: Idp, browser: Browser
) -> None:
    a, _ = tenants
    scenarios.a_cross_site_form_post(browser, target, logged, user=idp.user("ted", a.name, "tenant-admin"))
