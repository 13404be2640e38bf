"""An exhausted database pool answers 503 with Retry-After wherever the connection is requested, never a 500; and
authentication, on a pool of its own, goes on while the requests' pool is exhausted."""

from __future__ import annotations

import secrets

import pytest
from maestro_api.core.config import Settings
from sqlalchemy import text

from tests.app.conftest import app_client, auth, bootstrap, superuser_conn
from tests.servers import PgServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def test_pool_timeout_is_503_with_retry_after_and_recovers(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={"database_pool_size": 1, "database_max_overflow": 0, "database_pool_timeout_seconds": 0.3}
    )
    warm_key = await bootstrap(settings, f"pool-{secrets.token_hex(3)}")
    cold_key = await bootstrap(settings, f"pool-{secrets.token_hex(3)}")
    async with app_client(settings) as c:
        engine = c.app.state.engine  # type: ignore[attr-defined]
        # Authenticated once, so the next request needs the pool only for its session (SessionDep).
        assert (await c.get("/v1/api-keys", headers=auth(warm_key))).status_code == 200
        assert engine.pool.checkedout() == 0
        async with engine.connect() as held:  # what a slow request holds: the pool's only connection
            await held.execute(text("SELECT 1"))
            assert engine.pool.checkedout() == 1
            # SessionDep cannot get a connection.
            r = await c.get("/v1/api-keys", headers=auth(warm_key))
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "1"
            assert "connections are busy" in r.json()["detail"]
            # A key not yet seen is still authenticated, on the authentication's own pool: a route that needs no
            # session answers, one that does is refused like the warm key's.
            assert (await c.get("/v1/roles", headers=auth(cold_key))).status_code == 200
            r = await c.get("/v1/api-keys", headers=auth(cold_key))
            assert (r.status_code, r.headers["retry-after"]) == (503, "1"), r.text
        # Released: both are served again.
        assert (await c.get("/v1/api-keys", headers=auth(warm_key))).status_code == 200
        assert (await c.get("/v1/api-keys", headers=auth(cold_key))).status_code == 200


async def test_connections_the_database_dropped_are_replaced_without_failing_a_request(
    api_settings: Settings, pg_server: PgServer
) -> None:
    """What a Patroni failover does to the pools: every open connection is cut. The next requests, one needing a
    key lookup (authentication's pool) and one writing (the requests' pool), still answer."""
    warm_key = await bootstrap(api_settings, f"drop-{secrets.token_hex(3)}")
    cold_key = await bootstrap(api_settings, f"drop-{secrets.token_hex(3)}")
    async with app_client(api_settings) as c:
        assert (await c.post("/v1/users", json={"email": "a@drop.test"}, headers=auth(warm_key))).status_code == 201
        with superuser_conn(pg_server, api_settings.database_url.rsplit("/", 1)[1]) as conn:
            cut = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
                (f"{api_settings.service_name}%",),
            ).fetchone()
        assert cut is not None and cut[0] >= 2, "both pools held a connection to cut"
        assert (await c.get("/v1/roles", headers=auth(cold_key))).status_code == 200
        r = await c.post("/v1/users", json={"email": "b@drop.test"}, headers=auth(warm_key))
        assert r.status_code == 201, r.text
