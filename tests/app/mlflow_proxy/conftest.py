"""Fixtures of the MLflow client proxy tests: MLflow serving artifacts, Maestro on loopback, two tenants.

The stock ``mlflow`` client is synchronous (requests), so Maestro runs as its own ``maestro-api serve`` process
on a free loopback port in front of a real ``mlflow server`` on PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import LiveServer, served
from tests.app.registry.conftest import Tenant, make_two_tenants
from tests.mlflow_server import MlflowServer, session_mlflow
from tests.servers import PgServer

# Tenants' artifact roots are proxied URIs: the client sends artifacts through Maestro to MLflow's artifact proxy.
PROXIED_ROOT = "mlflow-artifacts:/tenants"


@pytest.fixture(scope="session")
def artifact_mlflow(pg_server: PgServer) -> Iterator[MlflowServer]:
    """An MLflow server that also serves its artifact proxy (what ``mlflow-artifacts:/`` URIs need).

    For quick local iterations only, ``MAESTRO_TEST_MLFLOW_PROXY_URL`` (+ ``..._ARTIFACT_ROOT``) reuse a running,
    workspace-enabled, artifact-serving MLflow; CI never sets them.
    """
    with session_mlflow(pg_server, name="mlflow_proxy", serve_artifacts=True) as server:
        yield server


@pytest.fixture
def proxy_settings(api_settings: Settings, artifact_mlflow: MlflowServer) -> Settings:
    return api_settings.model_copy(
        update={
            "mlflow_url": artifact_mlflow.url,
            "artifact_root": PROXIED_ROOT,
            "mlflow_timeout_seconds": 20.0,
        }
    )


@pytest.fixture
async def two_tenants(proxy_settings: Settings, pg_server: PgServer) -> tuple[Tenant, Tenant]:
    return await make_two_tenants(proxy_settings, pg_server)


@dataclass(frozen=True)
class Maestro:
    """Maestro serving on loopback; ``tracking_uri`` is what a data scientist sets as MLFLOW_TRACKING_URI."""

    server: LiveServer
    mlflow: MlflowServer

    @property
    def tracking_uri(self) -> str:
        return f"{self.server.url}/mlflow"

    @property
    def artifact_dir(self) -> Path:
        return Path(self.mlflow.artifact_root.removeprefix("file://"))


@contextlib.contextmanager
def serve_maestro(
    settings: Settings, mlflow: MlflowServer, extra_env: Mapping[str, str] | None = None
) -> Iterator[Maestro]:
    """``maestro-api serve`` in front of ``mlflow`` with proxied artifact roots, stopped on exit.

    Args:
        settings: the API's settings (``proxy_settings``).
        mlflow: the artifact-serving MLflow behind the proxy.
        extra_env: more ``MAESTRO_*`` variables for this server, e.g. a smaller artifact limit.
    """
    with served(
        settings,
        extra_env={
            "MAESTRO_MLFLOW_URL": mlflow.url,
            "MAESTRO_ARTIFACT_ROOT": PROXIED_ROOT,
            "MAESTRO_MLFLOW_TIMEOUT_SECONDS": "20",
            **(extra_env or {}),
        },
    ) as server:
        yield Maestro(server=server, mlflow=mlflow)


@pytest.fixture
def maestro(proxy_settings: Settings, artifact_mlflow: MlflowServer) -> Iterator[Maestro]:
    with serve_maestro(proxy_settings, artifact_mlflow) as served:
        yield served


@pytest.fixture
def mlflow_env(monkeypatch: pytest.MonkeyPatch, maestro: Maestro) -> Maestro:
    """The stock client pointed at Maestro, failing fast: no retries, a short timeout."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", maestro.tracking_uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)
    import mlflow

    mlflow.set_tracking_uri(maestro.tracking_uri)
    mlflow.set_registry_uri(maestro.tracking_uri)
    return maestro


def use_key(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Act as the holder of ``key`` (the client reads MLFLOW_TRACKING_TOKEN on every request)."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", key)
