"""The "Done when" of the API service, through the real command line: `maestro-api migrate`, `bootstrap`,
`serve` (a uvicorn subprocess on loopback) on real PostgreSQL and Redis, then `audit verify`."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from maestro_api.core.config import Settings
from pydantic import SecretStr

from tests.app.conftest import (
    DbRoles,
    auth,
    make_settings,
    migration_env,
    owner_url,
    served,
    settings_env,
    superuser_conn,
)
from tests.servers import PgServer

pytestmark = pytest.mark.servers

EXE = str(Path(sys.executable).with_name("maestro-api"))


def cli(settings: Settings, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``maestro-api ARGS`` with the service's environment (or exactly ``env``'s MAESTRO_* settings)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    full = {**base, **(env if env is not None else settings_env(settings))}
    return subprocess.run([EXE, *args], env=full, capture_output=True, text=True, timeout=120, check=False)


def test_done_when(pg_server: PgServer, migrated_db: str, db_roles, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    # Default limits: the free tier's 60 requests per minute per key.
    settings = make_settings(pg_server, migrated_db, db_roles, redis_url, auth_cache_ttl_seconds=5)
    # The one-shot migration step has the owner's URL and the service role; the service's commands have neither.
    assert cli(settings, "migrate").returncode == 2
    r = cli(settings, "migrate", env=migration_env(settings, db_roles))
    assert r.returncode == 0, r.stderr
    assert cli(settings, "migrate", env=migration_env(settings, db_roles)).returncode == 0  # idempotent
    keys = {}
    for tenant in ("acme", "globex"):
        r = cli(settings, "bootstrap", "--tenant", tenant, "--tier", "free")
        assert r.returncode == 0, r.stderr
        keys[tenant] = r.stdout.strip()
        assert keys[tenant].startswith("mst_") and "\n" not in keys[tenant]
        assert keys[tenant] not in r.stderr
    with served(settings) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        # 5 roles, >= 35 permissions
        roles = http.get("/v1/roles", headers=auth(keys["acme"])).json()
        assert len(roles["roles"]) == 5 and len(roles["permissions"]) >= 35

        # A cross-tenant read answers 404.
        user = http.post("/v1/users", json={"email": "ada@acme.test"}, headers=auth(keys["acme"])).json()
        assert http.get(f"/v1/users/{user['id']}", headers=auth(keys["acme"])).status_code == 200
        r = http.get(f"/v1/users/{user['id']}", headers=auth(keys["globex"]))
        assert r.status_code == 404 and "ada" not in r.text

        # The tier's limit yields 429 with the headers (globex's key has made 1 request so far).
        codes = [http.get("/v1/roles", headers=auth(keys["globex"])).status_code for _ in range(59)]
        assert codes == [200] * 59
        r = http.get("/v1/roles", headers=auth(keys["globex"]))
        assert r.status_code == 429
        for header in ("retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert header in r.headers, header
        assert r.headers["ratelimit-limit"] == "60" and r.headers["ratelimit-remaining"] == "0"

    r = cli(settings, "audit", "verify")
    assert r.returncode == 0, r.stderr
    # A deleted audit row makes `audit verify` exit 1 and name the event.
    with superuser_conn(pg_server, migrated_db) as conn:
        conn.execute("SET session_replication_role = replica")
        deleted = conn.execute(
            "DELETE FROM audit_events WHERE seq = 1 AND tenant_id = (SELECT id FROM tenants WHERE name = 'acme') "
            "RETURNING id"
        ).fetchone()
        assert deleted is not None
    r = cli(settings, "audit", "verify")
    assert r.returncode == 1
    assert "audit chain BROKEN" in r.stderr and "seq=2" in r.stderr and "sequence gap" in r.stderr
    r = cli(settings, "audit", "verify", "--tenant", "globex")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("role", ["owner", "superuser", "service"])
def test_serve_in_prod_refuses_to_run_as_the_owner_or_a_superuser(
    pg_server: PgServer, api_settings: Settings, db_roles: DbRoles, role: str
) -> None:
    dbname = api_settings.database_url.rsplit("/", 1)[1]
    url = {
        "owner": owner_url(api_settings, db_roles),
        "superuser": pg_server.url(dbname),
        "service": api_settings.database_url,
    }[role]
    prod = api_settings.model_copy(
        update={"environment": "prod", "database_url": url, "metrics_token": SecretStr("m" * 40)}
    )
    if role == "service":
        with served(prod) as server:
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        return
    refused = pytest.raises(RuntimeError, match="refusing to start: MAESTRO_DATABASE_URL logs in as the table owner")
    with refused, served(prod):
        pass
