"""API keys follow the user they act for, on real PostgreSQL and Redis, with two app processes (two caches): a
disabled user's keys are refused within the cache TTL (at once in the process that disabled it), a demoted user's
key is capped at the new role, a removed user's keys are gone; keys are bound to a user of the caller's own
tenant, never above that user's role. (The OIDC side is in test_security_servers.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import app_client, auth, bootstrap, user_with_key

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

TTL = 1.0


@pytest.fixture
def settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"auth_cache_ttl_seconds": TTL})


async def refused_within_ttl(client: httpx.AsyncClient, key: str, path: str = "/v1/roles") -> httpx.Response:
    """The answer once the TTL has passed (a warm process may serve a key until then, never after)."""
    await asyncio.sleep(TTL + 0.3)
    return await client.get(path, headers=auth(key))


async def test_a_disabled_users_keys_are_refused_within_the_ttl(settings: Settings) -> None:
    admin = await bootstrap(settings, "acme")
    async with app_client(settings) as a, app_client(settings) as b:
        user, key = await user_with_key(a, admin, "ada@acme.test", role="ml-engineer")
        assert key["user_id"] == user["id"]
        assert (await b.get("/v1/roles", headers=auth(key["key"]))).status_code == 200  # b's cache is warm
        r = await a.patch(f"/v1/users/{user['id']}", json={"disabled": True}, headers=auth(admin))
        assert r.status_code == 200 and r.json()["disabled"] is True
        r = await a.get("/v1/roles", headers=auth(key["key"]))  # the process that disabled it: at once
        assert r.status_code == 401 and r.json()["detail"] == "The key's user is disabled."
        r = await refused_within_ttl(b, key["key"])
        assert r.status_code == 401 and "disabled" in r.json()["detail"]
        # Enabled again, the key works again within the TTL too.
        assert (await a.patch(f"/v1/users/{user['id']}", json={"disabled": False}, headers=auth(admin))).is_success
        await asyncio.sleep(TTL + 0.3)
        assert (await b.get("/v1/roles", headers=auth(key["key"]))).status_code == 200


async def test_a_demoted_users_key_is_capped_at_the_new_role(settings: Settings) -> None:
    admin = await bootstrap(settings, "acme")
    async with app_client(settings) as a, app_client(settings) as b:
        user, key = await user_with_key(a, admin, "lead@acme.test", role="tenant-admin")
        assert (await b.get("/v1/users", headers=auth(key["key"]))).status_code == 200
        r = await a.patch(f"/v1/users/{user['id']}", json={"role": "viewer"}, headers=auth(admin))
        assert r.status_code == 200
        r = await refused_within_ttl(b, key["key"], "/v1/users")
        assert r.status_code == 403 and "Role 'viewer' lacks" in r.json()["detail"]
        assert (await b.get("/v1/roles", headers=auth(key["key"]))).status_code == 200  # still a viewer
        # The key keeps its own role as a ceiling: promoting the user back gives it no more than that.
        listed = (await a.get(f"/v1/api-keys/{key['id']}", headers=auth(admin))).json()
        assert listed["role"] == "tenant-admin"


async def test_a_key_never_exceeds_its_users_role(client: httpx.AsyncClient, api_settings: Settings) -> None:
    admin = await bootstrap(api_settings, "acme")
    user = (await client.post("/v1/users", json={"email": "v@acme.test"}, headers=auth(admin))).json()
    body = {"name": "k", "role": "ml-engineer", "user_id": user["id"]}
    r = await client.post("/v1/api-keys", json=body, headers=auth(admin))
    assert r.status_code == 403 and "its user's role ('viewer')" in r.json()["detail"]


async def test_a_removed_users_keys_are_gone(settings: Settings) -> None:
    admin = await bootstrap(settings, "acme")
    async with app_client(settings) as a, app_client(settings) as b:
        user, key = await user_with_key(a, admin, "gone@acme.test")
        assert (await b.get("/v1/roles", headers=auth(key["key"]))).status_code == 200
        assert (await a.delete(f"/v1/users/{user['id']}", headers=auth(admin))).status_code == 204
        assert (await a.get(f"/v1/api-keys/{key['id']}", headers=auth(admin))).status_code == 404
        r = await refused_within_ttl(b, key["key"])
        assert r.status_code == 401 and r.json()["detail"] == "The API key is not valid."


async def test_keys_made_by_a_key_act_for_the_same_user(settings: Settings) -> None:
    admin = await bootstrap(settings, "acme")
    async with app_client(settings) as a:
        user, parent = await user_with_key(a, admin, "boss@acme.test", role="tenant-admin")
        r = await a.post("/v1/api-keys", json={"name": "child", "role": "viewer"}, headers=auth(parent["key"]))
        assert r.status_code == 201 and r.json()["user_id"] == user["id"]
        child = r.json()["key"]
        assert (await a.patch(f"/v1/users/{user['id']}", json={"disabled": True}, headers=auth(admin))).is_success
        for key in (parent["key"], child):
            assert (await a.get("/v1/roles", headers=auth(key))).status_code == 401


async def test_a_key_must_act_for_an_enabled_user_of_the_callers_tenant(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    admin = await bootstrap(api_settings, "acme")
    other = await bootstrap(api_settings, "globex")
    # A bootstrap key acts for no user: it must name one.
    r = await client.post("/v1/api-keys", json={"name": "k"}, headers=auth(admin))
    assert r.status_code == 422 and "user_id" in r.json()["detail"]
    # Another tenant's user is not found (RLS and the foreign key both keep keys in their tenant).
    foreign = (await client.post("/v1/users", json={"email": "f@globex.test"}, headers=auth(other))).json()
    r = await client.post("/v1/api-keys", json={"name": "k", "user_id": foreign["id"]}, headers=auth(admin))
    assert r.status_code == 404
    user = (await client.post("/v1/users", json={"email": "off@acme.test"}, headers=auth(admin))).json()
    assert (await client.patch(f"/v1/users/{user['id']}", json={"disabled": True}, headers=auth(admin))).is_success
    r = await client.post("/v1/api-keys", json={"name": "k", "user_id": user["id"]}, headers=auth(admin))
    assert r.status_code == 409 and r.json()["detail"] == "The user is disabled."
    # Bootstrap keys themselves: no user (the operator's), listed as such.
    keys: list[dict[str, Any]] = (await client.get("/v1/api-keys", headers=auth(admin))).json()
    assert [k["user_id"] for k in keys if k["created_by"] == "cli:bootstrap"] == [None]


async def test_nobody_manages_a_user_above_their_own_role(client: httpx.AsyncClient, api_settings: Settings) -> None:
    root = await bootstrap(api_settings, "acme", role="platform-admin")
    admin = await bootstrap(api_settings, "acme")
    boss = await client.post("/v1/users", json={"email": "b@acme.test", "role": "platform-admin"}, headers=auth(root))
    boss_id = boss.json()["id"]
    for method, body in (("PATCH", {"disabled": True}), ("DELETE", None)):
        r = await client.request(method, f"/v1/users/{boss_id}", json=body, headers=auth(admin))
        assert r.status_code == 403 and "cannot manage a 'platform-admin' user" in r.json()["detail"], r.text
    assert (await client.patch(f"/v1/users/{boss_id}", json={"disabled": True}, headers=auth(root))).is_success
