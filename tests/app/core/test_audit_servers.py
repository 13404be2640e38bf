"""The audit log on real PostgreSQL: mutations and denials are recorded and chained per tenant; the service role
cannot UPDATE, DELETE or TRUNCATE audit rows; `maestro-api audit verify` passes on an intact chain and exits 1
naming the first bad event after an alteration or a deletion (done as the superuser, triggers bypassed).
The table owner's attacks on the keyed chain are in test_audit_owner_servers.py."""

from typing import Any

import httpx
import psycopg
import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import (
    DbRoles,
    audit_cli,
    auth,
    bootstrap,
    owner_url,
    superuser_conn,
    user_with_key,
)
from tests.servers import PgServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def dbname(settings: Settings) -> str:
    return settings.database_url.rsplit("/", 1)[1]


async def make_history(settings: Settings, client: httpx.AsyncClient) -> str:
    key = await bootstrap(settings, "acme")
    await bootstrap(settings, "globex")
    for i in range(3):
        assert (await client.post("/v1/users", json={"email": f"u{i}@acme.test"}, headers=auth(key))).status_code == 201
    _, viewer = await user_with_key(client, key, "viewer@acme.test")
    assert (await client.get("/v1/users", headers=auth(viewer["key"]))).status_code == 403  # a denial
    return key


async def test_events_record_who_what_outcome_request_and_client(
    api_settings: Settings, client: httpx.AsyncClient
) -> None:
    key = await make_history(api_settings, client)
    r = await client.post("/v1/users", json={"email": "x@acme.test"}, headers={**auth(key), "X-Request-ID": "req-42"})
    assert r.status_code == 201
    page = (await client.get("/v1/audit-events?limit=3", headers=auth(key))).json()
    newest = page["items"][0]
    assert newest["action"] == "users:invite" and newest["outcome"] == "success"
    assert newest["request_id"] == "req-42" and newest["client_address"] == "203.0.113.7"
    assert newest["actor"].startswith("api_key:") and newest["target"] == f"user:{r.json()['id']}"
    assert [e["seq"] for e in page["items"]] == sorted((e["seq"] for e in page["items"]), reverse=True)
    older = (await client.get(f"/v1/audit-events?before_seq={page['next_before_seq']}", headers=auth(key))).json()
    assert older["items"] and max(e["seq"] for e in older["items"]) < min(e["seq"] for e in page["items"])
    outcomes = {e["outcome"] for e in older["items"] + page["items"]}
    assert {"success", "denied"} <= outcomes
    # A failed mutation (duplicate email: 409) is audited as a failure, the change itself rolled back.
    assert (await client.post("/v1/users", json={"email": "x@acme.test"}, headers=auth(key))).status_code == 409
    latest = (await client.get("/v1/audit-events?limit=1", headers=auth(key))).json()["items"][0]
    assert (latest["action"], latest["outcome"]) == ("users:invite", "failure")


def service_conn(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database_url.replace("+psycopg", ""), autocommit=True)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'success'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_service_role_cannot_change_audit_rows(
    api_settings: Settings, client: httpx.AsyncClient, statement: str
) -> None:
    await make_history(api_settings, client)
    with service_conn(api_settings) as conn:
        conn.execute("SELECT set_config('maestro.platform', 'on', false)")
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] > 0  # it can read
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


async def test_even_the_owner_is_stopped_by_the_append_only_trigger(
    api_settings: Settings, client: httpx.AsyncClient, db_roles: DbRoles
) -> None:
    await make_history(api_settings, client)
    with psycopg.connect(owner_url(api_settings, db_roles).replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("SELECT set_config('maestro.platform', 'on', false)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit_events")


async def verify(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> tuple[int, str]:
    return await audit_cli(monkeypatch, settings, "verify", *args)


async def test_verify_passes_on_an_intact_chain(
    api_settings: Settings, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_history(api_settings, client)
    code, out = await verify(monkeypatch, api_settings)
    assert code == 0 and "audit chain ok" in out and "2 tenant chain(s)" in out, out
    code, out = await verify(monkeypatch, api_settings, "--tenant", "acme")
    assert code == 0 and "1 tenant chain(s)" in out


def tamper(pg_server: PgServer, settings: Settings, sql: str) -> int:
    """Run ``sql`` as the superuser with triggers off (what an attacker with DB superuser could do)."""
    with superuser_conn(pg_server, dbname(settings)) as conn:
        conn.execute("SET session_replication_role = replica")
        tenant = conn.execute("SELECT id FROM tenants WHERE name = 'acme'").fetchone()[0]
        row = conn.execute(sql, {"t": tenant}).fetchone()
        return int(row[0])


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (
            "UPDATE audit_events SET outcome = 'success' WHERE tenant_id = %(t)s AND outcome = 'denied' RETURNING id",
            "hash mismatch",
        ),
        (
            "UPDATE audit_events SET actor = 'someone-else' WHERE tenant_id = %(t)s AND seq = 2 RETURNING id",
            "hash mismatch",
        ),
        ("DELETE FROM audit_events WHERE tenant_id = %(t)s AND seq = 2 RETURNING id", "sequence gap"),
        (
            "DELETE FROM audit_events WHERE tenant_id = %(t)s AND seq = "
            "(SELECT max(seq) FROM audit_events WHERE tenant_id = %(t)s) RETURNING id",
            "tail deleted",
        ),
    ],
    ids=["altered-outcome", "altered-actor", "deleted-middle", "deleted-tail"],
)
async def test_verify_names_the_first_bad_event(
    api_settings: Settings,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    pg_server: PgServer,
    sql: str,
    reason: str,
) -> None:
    await make_history(api_settings, client)
    event_id = tamper(pg_server, api_settings, sql)
    code, out = await verify(monkeypatch, api_settings)
    assert code == 1, out
    assert "audit chain BROKEN" in out and reason in out
    if reason == "hash mismatch":
        assert f"event id={event_id} " in out
    # The other tenant's chain is unaffected.
    code, out = await verify(monkeypatch, api_settings, "--tenant", "globex")
    assert code == 0, out
