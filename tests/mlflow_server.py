"""A real ``mlflow server`` process for the registry tests: PostgreSQL backend store, local artifacts, loopback.

The server is started lean, because the machine has 2 cores shared with other suites:
- one gunicorn sync worker (``--workers 1 --gunicorn-opts ...``) instead of uvicorn's 4 workers wrapping Flask
  through WSGI;
- ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``: no job runner and no huey consumer processes (~250 MB each);
- ``--enable-workspaces``: the API scopes each tenant to its own MLflow workspace (see docs/registry.md).

It runs in its own process group and is always stopped with all its children (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from tests.servers import PgServer, free_port

MLFLOW_BIN = Path(sys.executable).with_name("mlflow")
START_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class MlflowServer:
    """A running MLflow tracking server."""

    url: str
    """Base URL, e.g. ``http://127.0.0.1:PORT`` (no trailing slash)."""
    artifact_root: str
    """``file://`` URI under which each tenant's artifacts live (``{artifact_root}/{tenant_id}/...``)."""
    database_url: str
    """The backend store's SQLAlchemy URL (psycopg2 driver)."""
    process: subprocess.Popen[bytes] | None
    log: Path


def stop_process_group(proc: subprocess.Popen[bytes], *, grace_seconds: float = 10.0) -> None:
    """Stop ``proc`` and every child in its process group: SIGTERM, wait, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_seconds)
    # Children (gunicorn workers) may outlive the master for a moment; the group id is the master's pid.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_seconds)


def start_mlflow(
    *,
    database_url: str,
    workdir: Path,
    workers: int = 1,
    threads: int = 1,
    port: int | None = None,
    serve_artifacts: bool = False,
    preload: bool = False,
    token: str | None = None,
    artifacts_destination: str | None = None,
    env: Mapping[str, str] | None = None,
) -> MlflowServer:
    """Start ``mlflow server`` and wait until ``/health`` answers. The caller must call ``stop_process_group``.

    ``serve_artifacts``: also serve MLflow's artifact proxy (``/api/2.0/mlflow-artifacts``) with the artifact
    directory as its destination (the MLflow client proxy needs it); experiments' default root is unchanged.

    ``preload``: import MLflow once in the gunicorn master and fork the workers (a much faster start with several
    workers on a busy machine, where each worker would otherwise import MLflow on its own).

    ``token``: run Maestro's ``maestro-auth`` app, which refuses every request without this bearer token.

    ``artifacts_destination``: where the artifact proxy stores (default: the local artifact directory), e.g. an
    ``s3://`` URI, with ``env`` giving MLflow its endpoint and credentials.
    """
    port = port or free_port()
    artifacts = workdir / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    artifact_root = f"file://{artifacts}"
    log = workdir / "mlflow.log"
    serving = ["--no-serve-artifacts"]
    if serve_artifacts:
        serving = ["--serve-artifacts", "--artifacts-destination", artifacts_destination or artifact_root]
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_ENABLE_WORKSPACES": "true",
        # No telemetry pings from the test machine.
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        **({"MAESTRO_MLFLOW_TOKEN": token} if token else {}),
        **(env or {}),
    }
    cmd = [
        str(MLFLOW_BIN),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        database_url,
        "--default-artifact-root",
        artifact_root,
        *serving,
        "--enable-workspaces",
        *(["--app-name", "maestro-auth"] if token else []),
        "--workers",
        str(workers),
        # gunicorn's control socket defaults to one path per user: several servers would fight over it.
        "--gunicorn-opts",
        f"--threads {threads} --timeout 120 --graceful-timeout 5 --no-control-socket"
        + (" --preload" if preload else ""),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", headers=headers, timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server not healthy after {START_TIMEOUT_SECONDS}s:\n{log.read_text()[-4000:]}"
                )
            time.sleep(0.5)
    except BaseException:
        stop_process_group(proc)
        raise
    return MlflowServer(url=url, artifact_root=artifact_root, database_url=database_url, process=proc, log=log)


@contextlib.contextmanager
def session_mlflow(
    pg_server: PgServer,
    *,
    name: str = "mlflow",
    serve_artifacts: bool = False,
    token: str | None = None,
    artifacts_destination: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[MlflowServer]:
    """An MLflow server on its own new database of ``pg_server``; on exit it is stopped and its data removed.

    Args:
        pg_server: the PostgreSQL server that holds the backend store.
        name: names the database (``{name}_<random>``), the work directory (``maestro-{name}-...``, underscores as
            dashes) and the variables that reuse a running server instead (``MAESTRO_TEST_{NAME}_URL``).
        serve_artifacts: also serve MLflow's artifact proxy (see ``start_mlflow``).
        token: require this bearer token on every request (see ``start_mlflow``).
        artifacts_destination, env: where the artifact proxy stores, and MLflow's extra environment (see
            ``start_mlflow``).

    For quick local iterations only, ``MAESTRO_TEST_{NAME}_URL`` (+ ``MAESTRO_TEST_{NAME}_ARTIFACT_ROOT``) reuse an
    already running, workspace-enabled MLflow (artifact-serving if ``serve_artifacts``); CI never sets them.
    """
    variable = f"MAESTRO_TEST_{name.upper()}"
    external = os.environ.get(f"{variable}_URL")
    if external:
        root = os.environ[f"{variable}_ARTIFACT_ROOT"]
        yield MlflowServer(url=external, artifact_root=root, database_url="", process=None, log=Path("/dev/null"))
        return
    dbname = f"{name}_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix=f"maestro-{name.replace('_', '-')}-"))
    janitor = DatabaseJanitor(
        user=pg_server.superuser, password=pg_server.password, host=pg_server.host, port=pg_server.port, dbname=dbname
    )
    janitor.init()
    database_url = pg_server.url(dbname).replace("postgresql+psycopg://", "postgresql+psycopg2://")
    server = start_mlflow(
        database_url=database_url,
        workdir=workdir,
        serve_artifacts=serve_artifacts,
        token=token,
        artifacts_destination=artifacts_destination,
        env=env,
    )
    try:
        yield server
    finally:
        assert server.process is not None
        stop_process_group(server.process)
        with contextlib.suppress(Exception):
            janitor.drop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(pg_server: PgServer) -> Iterator[MlflowServer]:
    """One MLflow server for the session, on its own database of ``pg_server`` (``MAESTRO_TEST_MLFLOW_URL`` and
    ``MAESTRO_TEST_MLFLOW_ARTIFACT_ROOT`` reuse a running one, see ``session_mlflow``)."""
    with session_mlflow(pg_server) as server:
        yield server
