"""Fixtures of the MLflow client proxy tests: MLflow serving artifacts, Maestro on loopback, two tenants.

The stock ``mlflow`` client is synchronous (requests), so Maestro runs as its own ``maestro-api serve`` process
on a free loopback port in front of a real ``mlflow server`` on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from maestro_api.core.config import Settings
from pytest_postgresql.janitor import DatabaseJanitor

from tests.app.conftest import LiveServer, start_server
from tests.app.registry.conftest import Tenant, database_of, make_tenant
from tests.mlflow_server import MlflowServer, start_mlflow, stop_process_group
from tests.servers import PgServer

# Tenants' artifact roots are proxied URIs: the client sends artifacts through Maestro to MLflow's artifact proxy.
PROXIED_ROOT = "mlflow-artifacts:/tenants"


@pytest.fixture(scope="session")
def artifact_mlflow(pg_server: PgServer) -> Iterator[MlflowServer]:
    """An MLflow server that also serves its artifact proxy (what ``mlflow-artifacts:/`` URIs need).

    For quick local iterations only, ``MAESTRO_TEST_MLFLOW_PROXY_URL`` (+ ``..._ARTIFACT_ROOT``) reuse a running,
    workspace-enabled, artifact-serving MLflow; CI never sets them.
    """
    external = os.environ.get("MAESTRO_TEST_MLFLOW_PROXY_URL")
    if external:
        root = os.environ["MAESTRO_TEST_MLFLOW_PROXY_ARTIFACT_ROOT"]
        yield MlflowServer(url=external, artifact_root=root, database_url="", process=None, log=Path("/dev/null"))
        return
    dbname = f"mlflow_proxy_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="maestro-mlflow-proxy-"))
    janitor = DatabaseJanitor(
        user=pg_server.superuser, password=pg_server.password, host=pg_server.host, port=pg_server.port, dbname=dbname
    )
    janitor.init()
    database_url = pg_server.url(dbname).replace("postgresql+psycopg://", "postgresql+psycopg2://")
    server = start_mlflow(database_url=database_url, workdir=workdir, serve_artifacts=True)
    try:
        yield server
    finally:
        assert server.process is not None
        stop_process_group(server.process)
        with contextlib.suppress(Exception):
            janitor.drop()
        shutil.rmtree(workdir, ignore_errors=True)


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
    db = database_of(proxy_settings)
    a = await make_tenant(proxy_settings, pg_server, db, f"alpha-{secrets.token_hex(3)}")
    b = await make_tenant(proxy_settings, pg_server, db, f"bravo-{secrets.token_hex(3)}")
    return a, b


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


@pytest.fixture
def maestro(proxy_settings: Settings, artifact_mlflow: MlflowServer) -> Iterator[Maestro]:
    proc, server = start_server(
        proxy_settings,
        extra_env={
            "MAESTRO_MLFLOW_URL": artifact_mlflow.url,
            "MAESTRO_ARTIFACT_ROOT": PROXIED_ROOT,
            "MAESTRO_MLFLOW_TIMEOUT_SECONDS": "20",
        },
    )
    try:
        yield Maestro(server=server, mlflow=artifact_mlflow)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()


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
