"""The directory's quotas on real PostgreSQL: concurrent invites stop exactly at ``max_users`` and concurrent key
creates at ``max_api_keys``; the refusal is the registry's problem (the quota and its limit, nothing else)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.crud import DEFAULT_QUOTAS

from tests.app.conftest import auth, bootstrap
from tests.app.registry.test_quotas_servers import assert_v1_refusal

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

BURST = 10
FREE = DEFAULT_QUOTAS["free"]


async def test_concurrent_invites_stop_exactly_at_max_users(api_settings: Settings, client: httpx.AsyncClient) -> None:
    admin = await bootstrap(api_settings, "acme", tier="free")
    answers = await asyncio.gather(
        *(client.post("/v1/users", json={"email": f"u{i}@acme.test"}, headers=auth(admin)) for i in range(BURST))
    )
    created = [r for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code != 201]
    assert len(created) == FREE["max_users"], [(r.status_code, r.text) for r in answers]
    for r in refused:
        assert_v1_refusal(r, "max_users", FREE["max_users"])
    assert len((await client.get("/v1/users", headers=auth(admin))).json()) == FREE["max_users"]


async def test_concurrent_key_creates_stop_exactly_at_max_api_keys(
    api_settings: Settings, client: httpx.AsyncClient
) -> None:
    admin = await bootstrap(api_settings, "acme", tier="free")  # the bootstrap key is one of the active keys
    user = (await client.post("/v1/users", json={"email": "k@acme.test"}, headers=auth(admin))).json()
    body = {"role": "viewer", "user_id": user["id"]}
    answers = await asyncio.gather(
        *(client.post("/v1/api-keys", json={**body, "name": f"k{i}"}, headers=auth(admin)) for i in range(BURST))
    )
    created = [r for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code != 201]
    assert len(created) == FREE["max_api_keys"] - 1, [(r.status_code, r.text) for r in answers]
    for r in refused:
        assert_v1_refusal(r, "max_api_keys", FREE["max_api_keys"])
    # A revoked key frees its place.
    assert (await client.delete(f"/v1/api-keys/{created[0].json()['id']}", headers=auth(admin))).status_code == 204
    again = await client.post("/v1/api-keys", json={**body, "name": "again"}, headers=auth(admin))
    assert again.status_code == 201, again.text
