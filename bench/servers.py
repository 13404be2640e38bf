"""The benchmarks' platform on loopback: PostgreSQL, Redis, MLflow and the Maestro API, started and stopped as one.

``platform(...)`` starts PostgreSQL 15 (``tests.servers.postgres_cluster`` with the benchmarks' settings) and
Redis, creates the API's roles and database, starts MLflow (``tests.mlflow_server.start_mlflow``) when asked,
migrates, bootstraps the tenant ``bench`` (enterprise tier, rate limits far above any load: the limiter still runs,
one Redis round trip per request) and starts the API under uvicorn when asked. On exit everything stops in reverse
order and the scratch directory is removed.
"""

# ruff: noqa: S603, S607 - a benchmark driver: it starts fixed local programs (postgres, redis, mlflow, maestro-api)
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from maestro.paths import ROOT
from tests.mlflow_server import MlflowServer, start_mlflow, stop_process_group
from tests.servers import REDIS_SERVER, PgServer, free_port, postgres_cluster

VENV_BIN = Path(sys.executable).parent


@contextlib.contextmanager
def postgres() -> Iterator[PgServer]:
    """PostgreSQL tuned for the benchmarks: fsync on (unlike the tests), no synchronous commit, room for pools."""
    with postgres_cluster(
        settings="-c max_connections=300 -c shared_buffers=256MB -c synchronous_commit=off",
        prefix="maestro-bench-pg-",
    ) as server:
        yield server


@contextlib.contextmanager
def redis_server(base: Path) -> Iterator[tuple[int, int]]:
    """Redis without persistence on a free port; yields (port, pid). Its process group is the pid."""
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(base)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis did not start")
            time.sleep(0.1)
        yield port, proc.pid
    finally:
        stop_process_group(proc)


def psql(pg: PgServer, sql: str, db: str = "postgres") -> str:
    """Run one statement as the superuser; returns its output unaligned, without headers."""
    return subprocess.run(
        ["psql", "-h", pg.host, "-p", str(pg.port), "-U", pg.superuser, "-d", db, "-v", "ON_ERROR_STOP=1",
         "-qtAc", sql],
        check=True,
        env={**os.environ, "PGPASSWORD": pg.password},
        capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip


def wait_http(url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout}s")


@dataclass
class ApiConfig:
    """How the API is served (the knobs the tuning log compares)."""

    workers: int = 2
    loop: str = "uvloop"
    http: str = "httptools"
    auth_cache_ttl: float = 5.0


def start_api(
    env: dict[str, str], cfg: ApiConfig, log: Path, *, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The API under uvicorn on ``port`` (a free one by default) in its own process group, ready (``/readyz``);
    returns (process, url)."""
    port = port or free_port()
    cmd = [
        str(VENV_BIN / "python"), "-m", "uvicorn", "maestro_api.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(cfg.workers),
        "--loop", cfg.loop, "--http", cfg.http, "--no-access-log", "--no-server-header", "--log-level", "warning",
    ]  # fmt: skip
    env = {**env, "MAESTRO_AUTH_CACHE_TTL_SECONDS": str(cfg.auth_cache_ttl)}
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/readyz")
    except BaseException:
        stop_process_group(proc)
        raise
    return proc, url


@dataclass(frozen=True)
class MlflowConfig:
    """How MLflow is served (see ``tests.mlflow_server.start_mlflow``)."""

    workers: int
    """gunicorn sync workers."""
    preload: bool = False
    """Import MLflow once in the gunicorn master (a faster start with several workers)."""
    serve_artifacts: bool = False
    """Also serve MLflow's artifact proxy (what ``mlflow-artifacts:/`` roots need)."""


@dataclass(frozen=True)
class Platform:
    """What ``platform`` started; everything listens on 127.0.0.1."""

    base: Path
    """Scratch directory (Redis, MLflow's work directory, the API log), removed on exit."""
    pg: PgServer
    redis_port: int
    redis_pid: int
    """Redis's pid, which is also its process group."""
    settings_env: dict[str, str]
    """The API's ``MAESTRO_*`` settings."""
    key: str
    """Tenant-admin API key of the tenant ``bench``."""
    tenant_id: uuid.UUID
    mlflow: MlflowServer | None
    api_proc: subprocess.Popen[bytes] | None
    api_url: str | None
    """The API's base URL (None when no API was started)."""

    @property
    def env(self) -> dict[str, str]:
        """This process's environment plus the API's settings: what ``maestro-api`` and ``start_api`` get."""
        return {**os.environ, **self.settings_env}


@contextlib.contextmanager
def platform(
    *,
    prefix: str,
    mlflow: MlflowConfig | None = None,
    artifact_root: str | None = None,
    api: ApiConfig | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Platform]:
    """Start the platform, yield it, stop it.

    Args:
        prefix: prefix of the scratch directory's name (``tempfile.mkdtemp``).
        mlflow: start MLflow on its own database with this config; None starts none (then ``extra_env`` must
            give ``MAESTRO_MLFLOW_URL``).
        artifact_root: ``MAESTRO_ARTIFACT_ROOT``; None means MLflow's own artifact root (or unset without MLflow).
        api: start the API with this config once the tenant exists; None starts none.
        extra_env: more ``MAESTRO_*`` settings, applied last.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    with contextlib.ExitStack() as stack:
        # Unwinds in reverse: API, MLflow, Redis, PostgreSQL, then the scratch directory.
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        pg = stack.enter_context(postgres())
        redis_port, redis_pid = stack.enter_context(redis_server(base))
        owner_pw, service_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        for sql in (
            f"CREATE ROLE maestro_owner LOGIN PASSWORD '{owner_pw}'",
            f"CREATE ROLE maestro_app LOGIN PASSWORD '{service_pw}'",
            "CREATE DATABASE maestro OWNER maestro_owner",
            *(["CREATE DATABASE mlflow"] if mlflow else []),
        ):
            psql(pg, sql)
        psql(pg, "ALTER SCHEMA public OWNER TO maestro_owner", db="maestro")
        server: MlflowServer | None = None
        if mlflow:
            server = start_mlflow(
                database_url=f"postgresql+psycopg2://{pg.superuser}:{pg.password}@{pg.host}:{pg.port}/mlflow",
                workdir=base / "mlflow",
                workers=mlflow.workers,
                preload=mlflow.preload,
                serve_artifacts=mlflow.serve_artifacts,
            )
            assert server.process is not None
            stack.callback(stop_process_group, server.process)
        limits = {
            t: {"per_key": 10**9, "per_tenant": 10**9, "window_seconds": 60}
            for t in ("free", "standard", "premium", "enterprise")
        }
        settings_env = {
            "MAESTRO_ENVIRONMENT": "dev",
            "MAESTRO_DATABASE_URL": pg.url("maestro", user="maestro_app", password=service_pw),
            "MAESTRO_DATABASE_OWNER_URL": pg.url("maestro", user="maestro_owner", password=owner_pw),
            "MAESTRO_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            **({"MAESTRO_MLFLOW_URL": server.url, "MAESTRO_ARTIFACT_ROOT": server.artifact_root} if server else {}),
            **({"MAESTRO_ARTIFACT_ROOT": artifact_root} if artifact_root else {}),
            "MAESTRO_API_KEY_PEPPER": secrets.token_urlsafe(40),
            "MAESTRO_RATE_LIMITS": json.dumps(limits),
            "MAESTRO_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        env = {**os.environ, **settings_env}
        cli = str(VENV_BIN / "maestro-api")
        subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True, timeout=300)
        key = subprocess.run(
            [cli, "bootstrap", "--tenant", "bench", "--tier", "enterprise"],
            env=env, check=True, capture_output=True, text=True, timeout=120,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        tenant_id = uuid.UUID(psql(pg, "SELECT id FROM tenants WHERE name = 'bench'", db="maestro"))
        api_proc, api_url = None, None
        if api:
            api_proc, api_url = start_api(env, api, base / "api.log")
            stack.callback(stop_process_group, api_proc)
        yield Platform(
            base=base,
            pg=pg,
            redis_port=redis_port,
            redis_pid=redis_pid,
            settings_env=settings_env,
            key=key,
            tenant_id=tenant_id,
            mlflow=server,
            api_proc=api_proc,
            api_url=api_url,
        )
