"""Before authentication, each defence on its own, on real PostgreSQL and Redis: a key's shape is checked before any
lookup; a refused key is answered again without one; keys not seen valid wait behind a small lane of their own and
are answered 503 when it is full (while a real, cached tenant is served); a client address past its failure budget
is answered 429 before any lookup, counted in Redis across processes, while keys it has used validly go on working;
and the address is the X-Real-IP of a trusted proxy only. The flood itself: test_preauth_flood_servers.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_network
from typing import Any

import httpx
import psycopg
import pytest
from maestro_api.core.config import Settings
from maestro_api.metrics import REGISTRY

from tests.app.conftest import app_client, auth, bootstrap, superuser_conn
from tests.app.flood import guessed_key
from tests.servers import PgServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("maestro_auth_failures_total", {"reason": reason}) or 0.0


@contextmanager
def keys_locked(pg_server: PgServer, settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """Every key lookup blocks while this lasts (the api_keys table locked by the superuser): what a lookup that
    takes long looks like."""
    with superuser_conn(pg_server, settings.database_url.rsplit("/", 1)[1]) as conn:
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")


async def test_the_lane_of_unseen_keys_is_small_and_answers_503_fast(
    api_settings: Settings, pg_server: PgServer
) -> None:
    settings = api_settings.model_copy(
        update={"auth_cache_ttl_seconds": 30, "auth_lookup_concurrency": 1, "auth_lookup_wait_seconds": 0.2}
    )
    key = await bootstrap(settings, "acme")
    async with app_client(settings) as c:
        assert (await c.get("/v1/users", headers=auth(key))).status_code == 200  # seen valid, cached
        with keys_locked(pg_server, settings):
            stuck = asyncio.create_task(c.get("/v1/roles", headers=auth(guessed_key())))  # holds the only slot
            await asyncio.sleep(0.3)
            before = failures("busy")
            r = await c.get("/v1/roles", headers=auth(guessed_key()))
            assert r.status_code == 503 and r.headers["retry-after"] == "1" and failures("busy") == before + 1
            assert r.json()["detail"] == "Authentication is busy; retry shortly."
            # The real tenant goes on meanwhile, and its requests use the request pool, not the lane.
            assert (await c.get("/v1/users", headers=auth(key))).status_code == 200
            assert not stuck.done()
        assert (await stuck).status_code == 401


async def test_a_refused_key_is_answered_again_without_a_lookup(api_settings: Settings, pg_server: PgServer) -> None:
    settings = api_settings.model_copy(update={"auth_lookup_wait_seconds": 0.2})
    await bootstrap(settings, "acme")
    guessed = guessed_key()
    async with app_client(settings) as c:
        assert (await c.get("/v1/roles", headers=auth(guessed))).status_code == 401
        with keys_locked(pg_server, settings):
            # A lookup would wait on the lock; the remembered refusal does not.
            r = await asyncio.wait_for(c.get("/v1/roles", headers=auth(guessed)), timeout=2)
            assert r.status_code == 401 and r.json()["detail"] == "The API key is not valid."
        # A malformed key never reaches a lookup at all.
        before = failures("malformed")
        assert (await c.get("/v1/roles", headers=auth("mst_abcdefgh_" + "A" * 42))).status_code == 401
        assert failures("malformed") == before + 1


async def test_a_client_past_its_failure_budget_is_refused_before_any_lookup(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"auth_failure_limit": 3, "auth_failure_window_seconds": 60})
    key = await bootstrap(settings, "acme")
    fresh = await bootstrap(settings, "acme", role="viewer")
    async with app_client(settings) as a, app_client(settings) as b:
        assert (await a.get("/v1/roles", headers=auth(key))).status_code == 200  # seen valid by process a
        for _ in range(3):
            assert (await a.get("/v1/roles", headers=auth(guessed_key()))).status_code == 401
        before = failures("throttled")
        # The budget is in Redis: the other process refuses this address too, without a lookup.
        r = await b.get("/v1/roles", headers=auth(guessed_key()))
        assert r.status_code == 429 and r.headers["retry-after"] == "60" and failures("throttled") == before + 1
        # Even a real key is refused from there while it is new to the process...
        assert (await a.get("/v1/roles", headers=auth(fresh))).status_code == 429
        # ...but a key this process has seen valid is re-checked and served (auth cache TTL 0: every request).
        assert (await a.get("/v1/roles", headers=auth(key))).status_code == 200


async def test_the_client_address_is_a_trusted_proxys_x_real_ip_only(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"auth_failure_limit": 2})
    key = await bootstrap(settings, "acme")

    async def tries(c: httpx.AsyncClient, real_ip: str) -> list[int]:
        headers = {"X-Real-IP": real_ip}
        return [(await c.get("/v1/roles", headers={**headers, **auth(guessed_key())})).status_code for _ in range(3)]

    # Not a trusted proxy (the test client's address is 203.0.113.7): X-Real-IP is ignored, one budget for all.
    async with app_client(settings) as c:
        assert await tries(c, "198.51.100.1") == [401, 401, 429]
        assert await tries(c, "198.51.100.2") == [429, 429, 429]
    # The edge as a trusted proxy: each real client has its own budget, recorded as the audit's client address.
    trusting = settings.model_copy(update={"trusted_proxies": [ip_network("203.0.113.0/24")]})
    async with app_client(trusting) as c:
        assert await tries(c, "198.51.100.3") == [401, 401, 429]
        assert await tries(c, "198.51.100.4") == [401, 401, 429]
        assert await tries(c, "not-an-ip") == [429, 429, 429]  # counted on the proxy's own address
        r = await c.post("/v1/users", json={"email": "a@acme.test"}, headers={**auth(key), "X-Real-IP": "192.0.2.9"})
        assert r.status_code == 201
        newest = (await c.get("/v1/audit-events?limit=1", headers=auth(key))).json()["items"][0]
        assert newest["client_address"] == "192.0.2.9"
