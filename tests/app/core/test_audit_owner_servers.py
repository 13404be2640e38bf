"""The table owner as the attacker of the audit log, on real PostgreSQL: with the owner's credentials it turns off
the append-only trigger, rewrites events and recomputes the chain the only way it can without the audit key (plain
SHA-256, or under a key it guesses), and moves the head. `maestro-api audit verify` (the service role's URL and the
audit keys) catches every such rewrite, the downgrade of keyed events to the old format included; a log that
began with plain SHA-256 events still verifies once sealed; rotated keys verify while kept; and what the chain
alone cannot see (a tail cut off with the head moved back) is caught against an anchor kept outside the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from maestro_api.core.audit import GENESIS_HASH, event_hash, keyed_event_hash
from maestro_api.core.config import Settings, derive_audit_key
from psycopg.rows import dict_row
from pydantic import SecretStr

from tests.app.conftest import DbRoles, app_client, audit_cli, auth, bootstrap, owner_url

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

Rows = list[dict[str, Any]]


@contextmanager
def as_owner(settings: Settings, roles: DbRoles) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """The table owner's session with what its credentials allow: the append-only trigger off, every tenant's
    audit rows visible (platform scope). The trigger is back on afterwards."""
    url = owner_url(settings, roles).replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("SELECT set_config('maestro.platform', 'on', false)")
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        try:
            yield conn
        finally:
            conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")


def tenant_id(conn: psycopg.Connection[dict[str, Any]], name: str) -> uuid.UUID:
    row = conn.execute("SELECT id FROM tenants WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def rewrite(
    settings: Settings,
    roles: DbRoles,
    tenant: str,
    edit: Callable[[Rows], int],
    *,
    sign: Callable[[dict[str, Any]], tuple[str, str | None]] | None = None,
    last: int | None = None,
) -> None:
    """As the owner, ``edit`` the tenant's events (in seq order; it returns the first seq it changed), recompute every
    hash from there up to ``last`` (default: the end, and the head moves) with ``sign`` (default: plain SHA-256 and
    no key id, the old format)."""
    sign = sign or (lambda row: (event_hash(row), None))
    with as_owner(settings, roles) as conn:
        t = tenant_id(conn, tenant)
        rows = conn.execute("SELECT * FROM audit_events WHERE tenant_id = %s ORDER BY seq", (t,)).fetchall()
        first = edit(rows)
        prev = rows[first - 2]["hash"] if first > 1 else GENESIS_HASH
        for row in rows[first - 1 : last]:
            row["prev_hash"] = prev
            row["hash"], row["key_id"] = sign(row)
            conn.execute(
                "UPDATE audit_events SET actor = %(actor)s, outcome = %(outcome)s, prev_hash = %(prev_hash)s, "
                "hash = %(hash)s, key_id = %(key_id)s WHERE id = %(id)s",
                row,
            )
            prev = row["hash"]
        if last is None:
            conn.execute(
                "UPDATE audit_chain_heads SET seq = %s, hash = %s WHERE tenant_id = %s", (rows[-1]["seq"], prev, t)
            )


def cover_up(seq: int) -> Callable[[Rows], int]:
    """The edit an insider makes: their own denied attempt at ``seq`` becomes someone else's success."""

    def edit(rows: Rows) -> int:
        rows[seq - 1].update(actor="api_key:someone-else", outcome="success")
        return seq

    return edit


async def history(settings: Settings, events: int = 4) -> str:
    """A tenant `acme` with ``events`` events (its bootstrap key's creation, then user invitations)."""
    key = await bootstrap(settings, "acme")
    await invite(settings, key, *(f"u{i}@acme.test" for i in range(events - 1)))
    return key


async def invite(settings: Settings, key: str, *emails: str) -> None:
    """One audited change through the API per address: the user invited."""
    async with app_client(settings) as client:
        for email in emails:
            r = await client.post("/v1/users", json={"email": email}, headers=auth(key))
            assert r.status_code == 201, r.text


async def test_the_log_is_keyed_and_verifies(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    key = await history(api_settings)
    async with app_client(api_settings) as client:
        page = (await client.get("/v1/audit-events", headers=auth(key))).json()["items"]
    assert {e["key_id"] for e in page} == {api_settings.audit_signing_key.id}
    assert all(e["hash"] != event_hash({**e, "occurred_at": datetime.fromisoformat(e["occurred_at"])}) for e in page)
    assert await audit_cli(monkeypatch, api_settings, "verify") == (
        0,
        "audit chain ok: 4 events in 1 tenant chain(s)\n",
    )


@pytest.mark.parametrize(
    ("seq", "reason"),
    [
        (3, "seq=3: a plain SHA-256 event after a keyed one (rewritten to the old format)"),
        (1, "seq=1: a plain SHA-256 event, and MAESTRO_AUDIT_LEGACY_CUTOFF is unset"),
    ],
    ids=["from-the-middle", "the-whole-chain"],
)
async def test_an_owner_who_recomputes_the_plain_sha256_chain_is_detected(
    api_settings: Settings, db_roles: DbRoles, monkeypatch: pytest.MonkeyPatch, seq: int, reason: str
) -> None:
    await history(api_settings)
    rewrite(api_settings, db_roles, "acme", cover_up(seq))
    code, out = await audit_cli(monkeypatch, api_settings, "verify")
    assert code == 1 and "audit chain BROKEN" in out and reason in out, out


@pytest.mark.parametrize(
    "sign",
    [
        lambda row: (event_hash(row), row["key_id"]),  # the old algorithm under the event's key id
        lambda row: (keyed_event_hash(row, derive_audit_key("guessed-" + "g" * 40)), row["key_id"]),
    ],
    ids=["sha256-keeping-the-key-id", "a-guessed-key"],
)
async def test_an_owner_without_the_key_cannot_recompute_a_keyed_chain(
    api_settings: Settings,
    db_roles: DbRoles,
    monkeypatch: pytest.MonkeyPatch,
    sign: Callable[[dict[str, Any]], tuple[str, str | None]],
) -> None:
    await history(api_settings)
    rewrite(api_settings, db_roles, "acme", cover_up(2), sign=sign)
    code, out = await audit_cli(monkeypatch, api_settings, "verify")
    assert code == 1 and "seq=2: hash mismatch (event altered)" in out, out


def append_plain(settings: Settings, tenant: str, count: int) -> None:
    """Events as the API wrote them before keys existed: plain SHA-256, no key id (as the service role)."""
    with psycopg.connect(settings.database_url.replace("+psycopg", ""), row_factory=dict_row) as conn:
        conn.execute("SELECT set_config('maestro.platform', 'on', false)")
        t = tenant_id(conn, tenant)
        conn.execute("SELECT set_config('maestro.tenant_id', %s, false)", (str(t),))
        head = conn.execute("SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = %s", (t,)).fetchone()
        seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS_HASH)
        if head is None:
            conn.execute("INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES (%s, 0, %s)", (t, prev))
        for _ in range(count):
            seq += 1
            event = {
                "tenant_id": t,
                "seq": seq,
                "occurred_at": datetime.now(UTC),
                "actor": "api_key:legacy",
                "action": "users:invite",
                "target": f"user:{uuid.uuid4()}",
                "outcome": "success",
                "request_id": "-",
                "client_address": "203.0.113.9",
                "prev_hash": prev,
            }
            prev = event_hash(event)
            conn.execute(
                "INSERT INTO audit_events (tenant_id, seq, occurred_at, actor, action, target, outcome, request_id, "
                "client_address, prev_hash, hash) VALUES (%(tenant_id)s, %(seq)s, %(occurred_at)s, %(actor)s, "
                "%(action)s, %(target)s, %(outcome)s, %(request_id)s, %(client_address)s, %(prev_hash)s, %(hash)s)",
                {**event, "hash": prev},
            )
        conn.execute("UPDATE audit_chain_heads SET seq = %s, hash = %s WHERE tenant_id = %s", (seq, prev, t))
        conn.commit()


async def test_a_legacy_log_keeps_verifying_once_sealed(
    api_settings: Settings, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two tenants from before keys (plain events only): one stays idle, one gets new (keyed) activity.
    key = await bootstrap(api_settings, "acme")
    await bootstrap(api_settings, "idle")
    plain_only(api_settings, pg_server, "acme", 3)
    plain_only(api_settings, pg_server, "idle", 2)
    # Without a cutoff a plain event is a finding; with one, an idle chain is still unsealed.
    code, out = await audit_cli(monkeypatch, api_settings, "verify")
    assert code == 1 and "MAESTRO_AUDIT_LEGACY_CUTOFF is unset" in out, out
    switching = api_settings.model_copy(update={"audit_legacy_cutoff": datetime.now(UTC) + timedelta(hours=1)})
    code, out = await audit_cli(monkeypatch, switching, "verify")
    assert code == 1 and "no keyed event: the chain was never sealed" in out, out
    # New activity on acme chains a keyed event onto its plain head; `audit seal` seals the idle chain.
    await invite(switching, key, "n@acme.test")
    code, out = await audit_cli(monkeypatch, switching, "seal")
    assert code == 0 and "sealed 1 chain(s)" in out, out
    assert await audit_cli(monkeypatch, switching, "seal") == (
        0,
        f"sealed 0 chain(s) with audit key {switching.audit_signing_key.id}\n",
    )
    code, out = await audit_cli(monkeypatch, switching, "verify")
    assert code == 0 and "audit chain ok: 7 events in 2 tenant chain(s)" in out, out


def plain_only(settings: Settings, pg_server: Any, tenant: str, count: int) -> None:
    """Replace the tenant's chain with ``count`` plain events (its history from before keys)."""
    from tests.app.conftest import superuser_conn

    dbname = settings.database_url.rsplit("/", 1)[1]
    with superuser_conn(pg_server, dbname) as conn:
        conn.execute("SET session_replication_role = replica")
        t = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()[0]
        conn.execute("DELETE FROM audit_events WHERE tenant_id = %s", (t,))
        conn.execute("DELETE FROM audit_chain_heads WHERE tenant_id = %s", (t,))
    append_plain(settings, tenant, count)


async def sealed_with_cutoff(settings: Settings, pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """acme's chain as 3 plain events sealed by `audit seal`, and the settings with the operator's cutoff just after
    the seal: from then on a chain may not turn from plain to keyed."""
    plain_only(settings, pg_server, "acme", 3)
    sealing = settings.model_copy(update={"audit_legacy_cutoff": datetime.now(UTC) + timedelta(hours=1)})
    assert (await audit_cli(monkeypatch, sealing, "seal"))[0] == 0
    return settings.model_copy(update={"audit_legacy_cutoff": datetime.now(UTC)})


async def test_an_owner_cannot_rewrite_the_plain_events_under_the_seal(
    api_settings: Settings, db_roles: DbRoles, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bootstrap(api_settings, "acme")
    after = await sealed_with_cutoff(api_settings, pg_server, monkeypatch)
    assert (await audit_cli(monkeypatch, after, "verify"))[0] == 0

    # A legacy event rewritten, the plain chain recomputed up to the seal: the seal's HMAC pins the old head.
    rewrite(after, db_roles, "acme", cover_up(2), last=3)
    code, out = await audit_cli(monkeypatch, after, "verify")
    assert code == 1 and "seq=4: prev_hash does not match the previous event" in out, out


async def test_an_owner_who_downgrades_the_seal_is_detected_even_after_new_events(
    api_settings: Settings, db_roles: DbRoles, pg_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await bootstrap(api_settings, "acme")
    after = await sealed_with_cutoff(api_settings, pg_server, monkeypatch)
    # Everything from the seal on rewritten into the old format: the chain has no keyed event left.
    rewrite(after, db_roles, "acme", lambda rows: 4)
    code, out = await audit_cli(monkeypatch, after, "verify")
    assert code == 1 and "no keyed event" in out, out
    # The API keeps writing (keyed) events onto the downgraded head: their authentic times are past the cutoff.
    await invite(after, key, "x@acme.test")
    code, out = await audit_cli(monkeypatch, after, "verify")
    assert code == 1 and "seq=5: the chain turns from plain to keyed after MAESTRO_AUDIT_LEGACY_CUTOFF" in out, out


async def test_rotated_keys_verify_while_kept(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    key = await history(api_settings, events=2)
    rotated = api_settings.model_copy(update={"audit_key": SecretStr("rotated-" + "r" * 40)})
    await invite(rotated, key, "r@acme.test")
    code, out = await audit_cli(monkeypatch, rotated, "verify")
    assert code == 1 and f"seq=1: signed with an unknown audit key {api_settings.audit_signing_key.id}" in out, out
    kept = rotated.model_copy(update={"audit_retired_keys": [api_settings.audit_key]})
    assert (await audit_cli(monkeypatch, kept, "verify"))[0] == 0


async def test_an_anchor_outside_the_database_catches_a_cut_tail(
    api_settings: Settings, db_roles: DbRoles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await history(api_settings, events=5)
    anchor = tmp_path / "heads.json"
    code, out = await audit_cli(monkeypatch, api_settings, "verify", "--anchor", str(anchor))
    assert code == 0 and "anchored 1 chain head(s)" in out and '"seq": 5' in anchor.read_text(), out
    # The owner cuts the last two events and moves the head back to the (validly keyed) event before them.
    with as_owner(api_settings, db_roles) as conn:
        t = tenant_id(conn, "acme")
        conn.execute("DELETE FROM audit_events WHERE tenant_id = %s AND seq > 3", (t,))
        prev = conn.execute("SELECT hash FROM audit_events WHERE tenant_id = %s AND seq = 3", (t,)).fetchone()
        assert prev is not None
        conn.execute("UPDATE audit_chain_heads SET seq = 3, hash = %s WHERE tenant_id = %s", (prev["hash"], t))
    # The chain alone cannot tell (every remaining event is intact): the anchor can.
    assert (await audit_cli(monkeypatch, api_settings, "verify"))[0] == 0
    code, out = await audit_cli(monkeypatch, api_settings, "verify", "--anchor", str(anchor))
    assert code == 1 and "the chain ends at seq 3, before the anchored seq (tail deleted)" in out, out
    assert '"seq": 5' in anchor.read_text()  # a failed verification leaves the anchor as it was
    # A whole chain removed (events and head) is missing against the anchor too.
    with as_owner(api_settings, db_roles) as conn:
        t = tenant_id(conn, "acme")
        conn.execute("DELETE FROM audit_events WHERE tenant_id = %s", (t,))
        conn.execute("DELETE FROM audit_chain_heads WHERE tenant_id = %s", (t,))
    code, out = await audit_cli(monkeypatch, api_settings, "verify", "--anchor", str(anchor))
    assert code == 1 and f"tenant {t}: seq=5: the chain ends at seq 0" in out, out


async def test_verify_needs_no_owner_credentials(
    api_settings: Settings, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await history(api_settings, events=2)
    monkeypatch.delenv("MAESTRO_DATABASE_OWNER_URL", raising=False)
    code, out = await audit_cli(monkeypatch, api_settings, "verify")
    assert code == 0 and "2 events" in out, out
