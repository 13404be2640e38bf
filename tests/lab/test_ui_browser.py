"""The MLflow web UI in headless Chromium through the whole lab: the edge (TLS, ModSecurity + CRS) -> the API's UI
routes -> MLflow, signing in at the lab's identity provider (lab_idp on mon1) as its users of two tenants. The
scenarios are tests/app/ui/browser.py's, the same as on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from maestro.lab import idp
from tests.app.ui import browser as scenarios
from tests.app.ui.browser import Logged, Target, browser

__all__ = ["browser"]

pytestmark = pytest.mark.lab


def user(tenant: str, role: str) -> str:
    """The subject of the lab's user of ``tenant`` with ``role`` (maestro.lab.idp.USERS)."""
    return next(u.sub for u in idp.USERS if u.tenant == tenant and u.role == role)


@pytest.fixture(scope="module")
def target(lab_endpoints: dict[str, Any]) -> Target:
    origin = str(lab_endpoints["ui"]).removesuffix("/mlflow/")
    # Chromium does not trust the lab CA; the stock client does (MLFLOW_TRACKING_SERVER_CERT_PATH).
    return Target(origin=origin, idp=lab_endpoints["idp"], tracking_uri=f"{lab_endpoints['api']}/mlflow",
                  insecure_tls=True)  # fmt: skip


@pytest.fixture
def logged(
    target: Target, lab_endpoints: dict[str, Any], ca_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Logged:
    """A run in the first tenant, logged with the stock client through the edge (the tenant's admin key)."""
    key_file = lab_endpoints.get("admin_key_file")
    if not key_file:
        pytest.fail("the lab bootstrapped no tenant: the API is not deployed (see `make lab` output)")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", Path(key_file).read_text().strip())
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", ca_file)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    return scenarios.log_a_run(target.tracking_uri, tmp_path)


def test_a_data_scientist_finds_the_run_its_chart_and_artifact_and_a_viewer_cannot_rename_it(
    target: Target, logged: Logged, browser: Browser, tmp_path: Path
) -> None:
    scenarios.a_data_scientists_day(
        browser,
        target,
        logged,
        scientist=user(idp.FIRST_TENANT, "data-scientist"),
        viewer=user(idp.FIRST_TENANT, "viewer"),
        shots=scenarios.screenshots(tmp_path),
    )


def test_another_tenants_run_url_is_not_found_and_sign_out_is_final(
    target: Target, logged: Logged, browser: Browser
) -> None:
    scenarios.another_tenant_and_sign_out(browser, target, logged, stranger=user(idp.SECOND_TENANT, "data-scientist"))


def test_a_cross_site_form_post_is_refused_while_signed_in(target: Target, logged: Logged, browser: Browser) -> None:
    scenarios.a_cross_site_form_post(browser, target, logged, user=user(idp.FIRST_TENANT, "tenant-admin"))
