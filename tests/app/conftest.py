"""Fixtures of the API tests: a migrated database with an owner and a non-owner service role, Redis, the app.

``api_settings`` gives Settings pointing at a fresh database migrated by ``maestro-api migrate``'s code path, as
the owner role (``migration_env``: the only place the owner's URL goes), with the service role (not the owner) in
MAESTRO_DATABASE_URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from maestro_api.cli import _bootstrap
from maestro_api.cli import app as cli_app
from maestro_api.core.config import Settings, TierLimits
from maestro_api.main import create_app
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tests.servers import PgServer

OWNER = "maestro_owner"
SERVICE = "maestro_app"
PEPPER = "test-pepper-" + "x" * 40
AUDIT_KEY = "test-audit-key-" + "a" * 40
GOOD_DB = "postgresql+psycopg://maestro_app:Str0ng-Passw0rd-xyz@db:5432/maestro"
# Settings every process accepts in prod (strong secrets); tests override one at a time.
PROD: dict[str, Any] = {
    "environment": "prod",
    "database_url": GOOD_DB,
    "api_key_pepper": "p" * 40,
    "audit_key": "a" * 40,
    "metrics_token": "m" * 40,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class DbRoles:
    owner_password: str
    service_password: str


@pytest.fixture(scope="session")
def db_roles(pg_server: PgServer) -> DbRoles:
    roles = DbRoles(secrets.token_urlsafe(18), secrets.token_urlsafe(18))
    with psycopg.connect(pg_server.url("postgres").replace("+psycopg", ""), autocommit=True) as conn:
        for name, password in ((OWNER, roles.owner_password), (SERVICE, roles.service_password)):
            conn.execute(f"DROP ROLE IF EXISTS {name}")
            conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' NOSUPERUSER NOBYPASSRLS NOCREATEROLE")
    return roles


def superuser_conn(pg_server: PgServer, dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(pg_server.url(dbname).replace("+psycopg", ""), autocommit=True)


def make_settings(pg_server: PgServer, dbname: str, roles: DbRoles, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "dev",
        "database_url": pg_server.url(dbname, user=SERVICE, password=roles.service_password),
        "redis_url": redis_url,
        "api_key_pepper": PEPPER,
        "audit_key": AUDIT_KEY,
        "auth_cache_ttl_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


def owner_url(settings: Settings, roles: DbRoles) -> str:
    """The table owner's URL of ``settings``' database (what only ``maestro-api migrate`` is given)."""
    url = make_url(settings.database_url).set(username=OWNER, password=roles.owner_password)
    return url.render_as_string(hide_password=False)


def migration_env(settings: Settings, roles: DbRoles) -> dict[str, str]:
    """The environment of ``maestro-api migrate`` for ``settings``' database: the owner's URL and the service role."""
    return {
        "MAESTRO_ENVIRONMENT": settings.environment,
        "MAESTRO_DATABASE_OWNER_URL": owner_url(settings, roles),
        "MAESTRO_DATABASE_SERVICE_ROLE": settings.service_role,
    }


@pytest.fixture
def migrated_db(pg_server: PgServer, pg_database: str, db_roles: DbRoles) -> str:
    """A fresh, empty database whose public schema belongs to the owner role (for migration tests)."""
    with superuser_conn(pg_server, pg_database) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {OWNER}")
    return pg_database


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer, db_roles: DbRoles) -> str:
    """One database migrated by `maestro-api migrate` per session; tests get copies of it (CREATE ... TEMPLATE)."""
    name = f"maestro_tmpl_{secrets.token_hex(4)}"
    with superuser_conn(pg_server, "postgres") as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with superuser_conn(pg_server, name) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {OWNER}")
    settings = make_settings(pg_server, name, db_roles, "redis://127.0.0.1:1/0")
    with pytest.MonkeyPatch.context() as mp:
        run_migrate(mp, migration_env(settings, db_roles))
    return name


@pytest.fixture
def migrated_copy(pg_server: PgServer, migrated_template: str) -> Iterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    with superuser_conn(pg_server, "postgres") as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {migrated_template} STRATEGY FILE_COPY")
    yield name
    with superuser_conn(pg_server, "postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url(redis_server: Any) -> Iterator[str]:
    import redis

    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    client.flushall()
    yield f"redis://{redis_server.host}:{redis_server.port}/0"
    client.close()


@pytest.fixture
def api_settings(pg_server: PgServer, migrated_copy: str, db_roles: DbRoles, redis_url: str) -> Settings:
    """Settings for a migrated database of this test's own, as the service role, with a flushed Redis."""
    return make_settings(pg_server, migrated_copy, db_roles, redis_url)


def settings_env(settings: Settings) -> dict[str, str]:
    """The service's environment for ``settings`` (never the owner's URL: see ``migration_env``)."""
    env = {
        "MAESTRO_ENVIRONMENT": settings.environment,
        "MAESTRO_DATABASE_URL": settings.database_url,
        "MAESTRO_REDIS_URL": settings.redis_url,
        "MAESTRO_API_KEY_PEPPER": settings.api_key_pepper.get_secret_value(),
        "MAESTRO_AUDIT_KEY": settings.audit_key.get_secret_value(),
        "MAESTRO_AUTH_CACHE_TTL_SECONDS": str(settings.auth_cache_ttl_seconds),
        "MAESTRO_RATE_LIMIT_FAILURE_MODE": settings.rate_limit_failure_mode,
    }
    if settings.audit_retired_keys:
        env["MAESTRO_AUDIT_RETIRED_KEYS"] = json.dumps([k.get_secret_value() for k in settings.audit_retired_keys])
    if settings.audit_legacy_cutoff is not None:
        env["MAESTRO_AUDIT_LEGACY_CUTOFF"] = settings.audit_legacy_cutoff.isoformat()
    if settings.metrics_token is not None:
        env["MAESTRO_METRICS_TOKEN"] = settings.metrics_token.get_secret_value()
    return env


def run_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, args: list[str]) -> Any:
    for k, v in settings_env(settings).items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(cli_app, args)
    if args[0] != "audit":
        assert result.exit_code == 0, (result.output, result.exception)
    return result


async def audit_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> tuple[int, str]:
    """``maestro-api audit ARGS`` with ``settings``' environment: (exit code, output)."""
    import anyio

    # The CLI runs its own event loop: call it from a worker thread, not from the test's loop.
    result = await anyio.to_thread.run_sync(lambda: run_cli(monkeypatch, settings, ["audit", *args]))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return int(result.exit_code), str(result.output)


def run_migrate(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """``maestro-api migrate`` with exactly ``env`` (``migration_env``) as its MAESTRO_* settings."""
    for k in [k for k in os.environ if k.startswith("MAESTRO_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(cli_app, ["migrate"])
    assert result.exit_code == 0, (result.output, result.exception)


async def bootstrap(settings: Settings, tenant: str, *, tier: str = "enterprise", role: str = "tenant-admin") -> str:
    return await _bootstrap(settings, tenant=tenant, tier=tier, role=role)


@pytest.fixture
async def client(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(api_settings) as c:
        yield c


class app_client:  # noqa: N801 - reads like the context manager it is
    """An httpx client talking to a running app (lifespan entered) in this process."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.app = create_app(settings, **kwargs)
        self._lifespan = self.app.router.lifespan_context(self.app)

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("203.0.113.7", 40000)), base_url="http://testserver"
        )
        self._client.app = self.app  # type: ignore[attr-defined]
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


def small_limits(per_key: int, per_tenant: int, window: int = 60) -> dict[str, TierLimits]:
    return {
        t: TierLimits(per_key=per_key, per_tenant=per_tenant, window_seconds=window)
        for t in ("free", "standard", "premium", "enterprise")
    }


def readiness(check: str) -> float | None:
    """The outcome of ``check`` at the last /readyz (1 ok, 0 failed): /readyz itself answers only a status."""
    from maestro_api.metrics import REGISTRY

    return REGISTRY.get_sample_value("maestro_readiness_check", {"check": check})


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def user_with_key(
    client: httpx.AsyncClient, admin_key: str, email: str, *, role: str = "viewer", key_role: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Invite a user (``role``) with ``admin_key`` and make a key acting for it (``key_role``, default the same);
    return (the user, the created key with its plaintext in ``key``)."""
    r = await client.post("/v1/users", json={"email": email, "role": role}, headers=auth(admin_key))
    assert r.status_code == 201, r.text
    user: dict[str, Any] = r.json()
    body = {"name": f"key of {email}", "role": key_role or role, "user_id": user["id"]}
    r = await client.post("/v1/api-keys", json=body, headers=auth(admin_key))
    assert r.status_code == 201, r.text
    key: dict[str, Any] = r.json()
    return user, key


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings
    env: dict[str, str]
    log: Path
    """The server's stderr (a file: a pipe nobody reads would block a server that logs much)."""


@contextlib.contextmanager
def served(settings: Settings, extra_env: Mapping[str, str] | None = None) -> Iterator[LiveServer]:
    """``maestro-api serve`` as a subprocess on a free loopback port, stopped when the block ends."""
    import subprocess
    import sys
    import tempfile
    import time

    from tests.servers import free_port

    port = free_port()
    env = {**os.environ, **settings_env(settings), **(extra_env or {})}
    exe = Path(sys.executable).with_name("maestro-api")
    log = Path(tempfile.mkstemp(prefix="maestro-api-serve-", suffix=".log")[1])
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # the shared 2-core machine can be slow to import
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"maestro-api serve exited: {log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("maestro-api serve did not become healthy in 120 s")
    try:
        yield LiveServer(url=url, settings=settings, env=env, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live_server(api_settings: Settings) -> Iterator[LiveServer]:
    with served(api_settings) as server:
        yield server


class ThreadedServer:
    """The app served by uvicorn over real HTTP on loopback, in a thread of this process (no re-import cost)."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from tests.servers import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
