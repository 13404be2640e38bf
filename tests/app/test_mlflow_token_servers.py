"""A real MLflow running Maestro's maestro-auth app: it refuses every request without the API's token (health checks,
the workspace list and tenant data included), the API works through it with the token, and without the token the
API cannot use it. MLflow refuses to start without a token."""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER
from pydantic import SecretStr

from tests.app.conftest import app_client, auth, bootstrap, readiness
from tests.mlflow_server import MLFLOW_BIN, MlflowServer, session_mlflow
from tests.servers import PgServer, free_port

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

TOKEN = secrets.token_urlsafe(36)


@pytest.fixture(scope="module")
def protected(pg_server: PgServer) -> Iterator[MlflowServer]:
    with session_mlflow(pg_server, name="mlflow_auth", serve_artifacts=True, token=TOKEN) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/api/3.0/mlflow/workspaces"),
        ("GET", "/api/2.0/mlflow/experiments/search?max_results=1"),
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}"])
def test_mlflow_refuses_every_request_without_the_token(
    protected: MlflowServer, method: str, path: str, header: str | None
) -> None:
    headers = {WORKSPACE_HEADER: "some-tenant"} | ({"Authorization": header} if header else {})
    r = httpx.request(method, f"{protected.url}{path}", headers=headers, json={"name": "x"}, timeout=30)
    assert r.status_code == 401
    assert r.json()["error_code"] == "UNAUTHENTICATED"


def test_mlflow_answers_the_token(protected: MlflowServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{protected.url}/health", headers=headers, timeout=30).status_code == 200
    workspaces = httpx.get(f"{protected.url}/api/3.0/mlflow/workspaces", headers=headers, timeout=30)
    assert workspaces.status_code == 200, workspaces.text


def _settings(api_settings: Settings, mlflow: MlflowServer, token: str | None) -> Settings:
    return api_settings.model_copy(
        update={
            "mlflow_url": mlflow.url,
            "artifact_root": "mlflow-artifacts:/tenants",
            "mlflow_timeout_seconds": 30.0,
            "mlflow_token": SecretStr(token) if token else None,
        }
    )


async def test_the_api_works_through_mlflow_with_its_token(api_settings: Settings, protected: MlflowServer) -> None:
    settings = _settings(api_settings, protected, TOKEN)
    key = await bootstrap(settings, f"tok-{uuid.uuid4().hex[:6]}")
    async with app_client(settings) as api:
        assert (await api.get("/readyz")).status_code == 200 and readiness("mlflow") == 1
        created = await api.post("/v1/models", json={"name": "churn"}, headers=auth(key))
        assert created.status_code == 201, created.text
        # The stock client's path: the caller's own Authorization (its API key) authenticates it to the API; MLflow
        # would refuse that header, so the call succeeding means the API sent its own token instead.
        exp = await api.post("/mlflow/api/2.0/mlflow/experiments/create", json={"name": "e"}, headers=auth(key))
        assert exp.status_code == 200, exp.text
        run = await api.post(
            "/mlflow/api/2.0/mlflow/runs/create", json={"experiment_id": exp.json()["experiment_id"]}, headers=auth(key)
        )
        assert run.status_code == 200, run.text
        info = run.json()["run"]["info"]
        path = f"{info['experiment_id']}/{info['run_id']}/artifacts/model.bin"
        put = await api.put(
            f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{path}",
            content=b"weights" * 1000,
            headers={**auth(key), "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200, put.text
        got = await api.get(f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{path}", headers=auth(key))
        assert got.status_code == 200 and got.content == b"weights" * 1000


async def test_without_the_token_the_api_cannot_use_mlflow(api_settings: Settings, protected: MlflowServer) -> None:
    settings = _settings(api_settings, protected, None)
    async with app_client(settings) as api:
        ready = await api.get("/readyz")
        assert ready.status_code == 503 and readiness("mlflow") == 0


def test_mlflow_does_not_start_without_a_token() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="maestro-mlflow-notoken-"))
    port = free_port()
    cmd = [
        str(MLFLOW_BIN),
        "server",
        "--app-name",
        "maestro-auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--workers",
        "1",
        "--gunicorn-opts",
        "--no-control-socket",
    ]
    # No MAESTRO_MLFLOW_TOKEN in this environment.
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(workdir)}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "MAESTRO_MLFLOW_TOKEN must hold the Maestro API's token" in proc.stdout + proc.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)


async def test_mlflow_refusing_the_apis_token_is_a_502_with_a_fixed_sentence(
    api_settings: Settings, protected: MlflowServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong ``mlflow_token`` is the platform's fault, not the caller's: 502 on both paths (never a 422 or a 401
    that would make the client think its own key is wrong), logged without the token."""
    wrong = secrets.token_urlsafe(36)
    settings = _settings(api_settings, protected, wrong)
    key = await bootstrap(settings, f"tok-{uuid.uuid4().hex[:6]}")
    async with app_client(settings) as api:
        v1 = await api.post("/v1/models", json={"name": "churn"}, headers=auth(key))
        assert (v1.status_code, v1.json()["detail"]) == (502, "The model registry refused the API's credential.")
        proxied = await api.post("/mlflow/api/2.0/mlflow/experiments/create", json={"name": "e"}, headers=auth(key))
        assert proxied.status_code == 502, proxied.text
        assert proxied.json() == {
            "error_code": "INTERNAL_ERROR",
            "message": "The model registry refused the API's credential.",
        }
    logged = caplog.text
    assert "MLflow refused the API's credential (HTTP 401" in logged
    assert wrong not in logged and TOKEN not in logged
