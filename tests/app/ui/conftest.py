"""Fixtures of the web UI tests: the lab's identity provider on loopback, Maestro with the UI on, signed-in browsers.

The identity provider is the lab's (``ansible/roles/lab_idp/files/maestro_lab_idp.py``: oidc-provider-mock with
PKCE required) on plain HTTP on loopback. Users are set per test with the provider's ``PUT /users/<sub>``, their
claims naming the test's own tenants. A "browser" here is an httpx client with a cookie jar on the app's ASGI
transport: it follows the sign-in through the provider's form exactly as a browser would, and keeps cookies by
their attributes (``Secure`` cookies only over https, hence the ``https://ui.test`` origin).
"""

from __future__ import annotations

import contextlib
import importlib.util
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from maestro_api.core.config import Settings
from pydantic import SecretStr

from maestro.paths import ROOT
from tests.app.conftest import app_client
from tests.app.mlflow_proxy.conftest import artifact_mlflow, proxy_settings, two_tenants
from tests.servers import free_port

__all__ = ["artifact_mlflow", "proxy_settings", "two_tenants"]

ORIGIN = "https://ui.test"
CLIENT_ID = "maestro-ui"
CLIENT_SECRET = secrets.token_urlsafe(24)
IDP_SCRIPT = ROOT / "ansible" / "roles" / "lab_idp" / "files" / "maestro_lab_idp.py"


def load_idp() -> ModuleType:
    """The launcher the lab_idp role installs, imported as a module."""
    spec = importlib.util.spec_from_file_location("maestro_lab_idp", IDP_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Idp:
    """The identity provider on loopback: its issuer URL (also its base URL)."""

    url: str

    def user(self, sub: str, tenant: str, role: str) -> str:
        """Define (or redefine) user ``sub`` of ``tenant`` with ``role``; returns ``sub``."""
        claims = {"email": f"{sub}@example.test", "maestro_tenant": tenant, "maestro_role": role}
        r = httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        assert r.status_code == 204, r.text
        return sub


@contextlib.contextmanager
def serve_idp(users: list[dict[str, Any]] | None = None) -> Iterator[str]:
    """The lab's provider with ``users`` predefined, on loopback over plain HTTP (which Authlib allows only with
    AUTHLIB_INSECURE_TRANSPORT, set while it runs); yields its URL, its issuer."""
    from werkzeug.serving import make_server

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
        server = make_server("127.0.0.1", free_port(), load_idp().build_app(users or []), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)


@pytest.fixture(scope="session")
def idp() -> Iterator[Idp]:
    with serve_idp() as url:
        yield Idp(url=url)


def with_ui(settings: Settings, idp: Idp, **more: Any) -> Settings:
    """``settings`` with OIDC at ``idp`` and the UI on at ``ORIGIN``."""
    return settings.model_copy(
        update={
            "oidc_issuer": idp.url,
            "oidc_audience": "maestro-api",
            "oidc_jwks_url": f"{idp.url}/jwks",
            "ui_origin": ORIGIN,
            "ui_oidc_client_id": CLIENT_ID,
            "ui_oidc_client_secret": SecretStr(CLIENT_SECRET),
            **more,
        }
    )


@pytest.fixture
def ui_settings(proxy_settings: Settings, idp: Idp) -> Settings:
    return with_ui(proxy_settings, idp)


@pytest.fixture
async def ui(ui_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without a session, on the app with the UI on (``.app`` is the app)."""
    async with app_client(ui_settings) as client:
        client.base_url = httpx.URL(ORIGIN)
        yield client


def browser_of(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another browser (its own cookie jar) on the same app."""
    app = client.app  # type: ignore[attr-defined]
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.8", 40000)), base_url=ORIGIN)
    other.app = app  # type: ignore[attr-defined]
    return other


async def start_sign_in(browser: httpx.AsyncClient) -> str:
    """GET /mlflow/ signed out: follow Maestro's redirects to the provider; returns its authorization URL."""
    r = await browser.get("/mlflow/")
    assert r.status_code == 302 and r.headers["location"] == "/mlflow/oauth/login", r.text
    r = await browser.get("/mlflow/oauth/login")
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


def authorize(authorization_url: str, sub: str) -> str:
    """Sign in at the provider's form as ``sub``; returns the callback URL it sends the browser to."""
    r = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


async def finish_sign_in(browser: httpx.AsyncClient, callback_url: str) -> httpx.Response:
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}" == ORIGIN, callback_url
    return await browser.get(f"{parts.path}?{parts.query}")


async def sign_in(browser: httpx.AsyncClient, idp: Idp, tenant: str, role: str) -> str:
    """Sign ``browser`` in as a new user of ``tenant`` with ``role``; returns the user's subject."""
    sub = idp.user(f"{role}-{secrets.token_hex(3)}", tenant, role)
    r = await finish_sign_in(browser, authorize(await start_sign_in(browser), sub))
    assert r.status_code == 303 and r.headers["location"] == "/mlflow/", r.text
    return sub


def same_origin(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers a browser sends on the UI's own state-changing calls."""
    return {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin", **(extra or {})}
