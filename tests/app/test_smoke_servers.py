"""End-to-end smoke over real PostgreSQL and Redis: migrate, bootstrap, authenticated requests."""

import httpx
import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import auth, bootstrap, user_with_key

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def test_bootstrapped_key_reads_roles_and_creates_a_key(
    api_settings: Settings, client: httpx.AsyncClient
) -> None:
    key = await bootstrap(api_settings, "acme")
    r = await client.get("/v1/roles", headers=auth(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["roles"]) == 5 and len(body["permissions"]) >= 35
    _, created = await user_with_key(client, key, "ci@acme.test")
    new_key = created["key"]
    assert (await client.get("/v1/roles", headers=auth(new_key))).status_code == 200
    assert (await client.get("/v1/api-keys", headers=auth(new_key))).status_code == 403
    r = await client.get("/v1/audit-events", headers=auth(key))
    assert r.status_code == 200, r.text
    outcomes = [(e["action"], e["outcome"]) for e in r.json()["items"]]
    assert ("api_keys:read", "denied") in outcomes and ("api_keys:create", "success") in outcomes
