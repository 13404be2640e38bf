"""The append-only, per-tenant hash-chained audit log, keyed with a secret the database never sees.

Each event's ``hash`` is HMAC-SHA256 under the audit key (``MAESTRO_AUDIT_KEY``) over its canonical JSON: every
field, the previous event's hash and the key's id, which the event also stores (``key_id``). ``audit_chain_heads``
remembers each tenant's last ``seq`` and ``hash``. So an altered event breaks its hash, a deleted one leaves a gap
in ``seq`` (or, at the tail, a head that points past the last event), and a database owner, who can change rows
but does not hold the key, cannot recompute a chain that verifies.

Events written before keys existed carry a plain SHA-256 (``key_id`` NULL). They still verify, under one rule that
stops an owner from rewriting keyed events into that old format: in a chain, plain events may only come first,
and the chain may pass to keyed events only at a keyed event older than ``MAESTRO_AUDIT_LEGACY_CUTOFF`` (its time
is under the HMAC, so an owner cannot backdate it); a chain must end with a keyed event. ``audit seal`` appends a
keyed event to the chains still plain, once, at the switch-over (docs/api.md).

The service role may only SELECT and INSERT audit rows; a trigger refuses UPDATE/DELETE even to the owner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from starlette.requests import Request

from maestro_api.core.config import AuditKey
from maestro_api.core.db import session_audit_key, tenant_transaction
from maestro_api.core.security import Principal
from maestro_api.metrics import AUDIT_EVENTS, AUDIT_WRITE_FAILURES

log = logging.getLogger("maestro_api.audit")

GENESIS_HASH = "0" * 64
Outcome = Literal["success", "denied", "failure"]

_HEAD_FOR_UPDATE = text("SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = :t FOR UPDATE")
_HEAD_CREATE = text(
    "INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES (:t, 0, :h) ON CONFLICT (tenant_id) DO NOTHING"
)
_HEAD_UPDATE = text("UPDATE audit_chain_heads SET seq = :seq, hash = :h WHERE tenant_id = :t")
_INSERT = text(
    "INSERT INTO audit_events (tenant_id, seq, occurred_at, actor, action, target, outcome, request_id, "
    "client_address, prev_hash, hash, key_id) VALUES (:tenant_id, :seq, :occurred_at, :actor, :action, :target, "
    ":outcome, :request_id, :client_address, :prev_hash, :hash, :key_id)"
)


HASHED_FIELDS = (
    "tenant_id",
    "seq",
    "occurred_at",
    "actor",
    "action",
    "target",
    "outcome",
    "request_id",
    "client_address",
    "prev_hash",
)
"""What an event's hash covers: every column but its id and the hash itself (and, for a keyed event, its key id)."""


def _canonical(event: Mapping[str, Any], key_id: str | None) -> bytes:
    doc = {name: event[name] for name in HASHED_FIELDS}
    doc["tenant_id"] = str(doc["tenant_id"])
    doc["occurred_at"] = doc["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    if key_id is not None:
        doc["key_id"] = key_id
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def event_hash(event: Mapping[str, Any]) -> str:
    """The plain SHA-256 of the event's canonical JSON (its ``HASHED_FIELDS``, sorted keys, UTC microsecond
    timestamps): the format of the events written before keys existed."""
    return hashlib.sha256(_canonical(event, None)).hexdigest()


def keyed_event_hash(event: Mapping[str, Any], key: AuditKey) -> str:
    """HMAC-SHA256 under ``key`` of the event's canonical JSON with the key's id: the format of every new event."""
    return hmac.new(key.secret, _canonical(event, key.id), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """An event to record for a request.

    Args:
        principal: who; the event goes to the principal's tenant chain.
        action: the permission exercised (``models:create``).
        target: the object (``model:churn``), or the request line when there is none yet.
        outcome: ``success``, ``denied`` or ``failure``.
        request: its request id and client address are recorded.
    """

    principal: Principal
    action: str
    target: str
    outcome: Outcome
    request: Request | None


def request_facts(request: Request | None) -> tuple[str, str]:
    """(request id, client address) of a request, for the audit record."""
    if request is None:
        return "-", "-"
    request_id = getattr(request.state, "request_id", None) or "-"
    client = getattr(request.state, "client_address", None) or (request.client.host if request.client else "-")
    return str(request_id), str(client)


async def record_audit(session: AsyncSession, entry: AuditEntry) -> None:
    """Append ``entry`` to its principal's tenant chain, inside ``session``'s transaction.

    Call it in the same transaction as the change it records (a rolled-back change leaves no event).
    """
    request_id, client = request_facts(entry.request)
    await append_event(
        session,
        tenant_id=entry.principal.tenant_id,
        actor=entry.principal.actor,
        action=entry.action,
        target=entry.target,
        outcome=entry.outcome,
        request_id=request_id,
        client_address=client,
    )


async def append_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    action: str,
    target: str,
    outcome: Outcome,
    request_id: str,
    client_address: str,
) -> None:
    """The chain step itself: lock the tenant's head, sign, insert, move the head. The key is the one the session's
    sessionmaker carries (``create_sessionmaker``); without one nothing is written (and the caller's transaction
    fails)."""
    key = session_audit_key(session)
    if key is None:
        raise RuntimeError("no audit key: make the sessionmaker with create_sessionmaker(..., audit_key=...)")
    params = {"t": tenant_id}
    head = (await session.execute(_HEAD_FOR_UPDATE, params)).first()
    if head is None:
        await session.execute(_HEAD_CREATE, {"t": tenant_id, "h": GENESIS_HASH})
        head = (await session.execute(_HEAD_FOR_UPDATE, params)).one()
    event = {
        "tenant_id": tenant_id,
        "seq": int(head[0]) + 1,
        "occurred_at": datetime.now(UTC),
        "actor": actor,
        "action": action,
        "target": target,
        "outcome": outcome,
        "request_id": request_id,
        "client_address": client_address,
        "prev_hash": str(head[1]),
    }
    digest = keyed_event_hash(event, key)
    await session.execute(_INSERT, {**event, "hash": digest, "key_id": key.id})
    await session.execute(_HEAD_UPDATE, {"t": tenant_id, "seq": event["seq"], "h": digest})
    AUDIT_EVENTS.labels(outcome=outcome).inc()


async def record_audit_separately(sessionmaker: async_sessionmaker[AsyncSession], entry: AuditEntry) -> None:
    """Record ``entry`` in its own transaction (denials and failures: the request's own transaction rolls back).
    A failure to write is counted and logged, never turned into a different response."""
    try:
        async with tenant_transaction(sessionmaker, tenant_id=entry.principal.tenant_id) as session:
            await record_audit(session, entry)
    except Exception:
        AUDIT_WRITE_FAILURES.inc()
        log.exception("audit event could not be written (action=%s outcome=%s)", entry.action, entry.outcome)


@dataclass(frozen=True)
class ChainProblem:
    """The first bad event of a tenant's chain."""

    tenant_id: uuid.UUID
    event_id: int | None
    seq: int
    reason: str

    def __str__(self) -> str:
        event = f"event id={self.event_id} seq={self.seq}" if self.event_id is not None else f"seq={self.seq}"
        return f"tenant {self.tenant_id}: {event}: {self.reason}"


@dataclass(frozen=True)
class ChainHead:
    """Where a tenant's chain ends: the last event's ``seq`` and ``hash`` (0 and the genesis hash when empty).
    Kept outside the database (``audit verify --anchor``), it pins the chain up to there."""

    seq: int
    hash: str


@dataclass(frozen=True)
class VerifyRules:
    """What ``verify_chain`` needs besides the rows.

    Args:
        keys: every audit key that may have signed an event, by id (``Settings.audit_keys``).
        legacy_cutoff: ``MAESTRO_AUDIT_LEGACY_CUTOFF``: plain events are allowed at the start of a chain only when
            it is set, and the chain's first keyed event must be older than it.
    """

    keys: Mapping[str, AuditKey]
    legacy_cutoff: datetime | None


_EVENTS = text(
    "SELECT id, tenant_id, seq, occurred_at, actor, action, target, outcome, request_id, client_address, "
    "prev_hash, hash, key_id FROM audit_events WHERE tenant_id = :t ORDER BY seq"
)


async def _rows(conn: AsyncConnection, tenant_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    result = await conn.stream(_EVENTS, {"t": tenant_id})
    async for row in result.mappings():
        yield dict(row)


def _event_problem(
    row: Mapping[str, Any], prev: str, rules: VerifyRules, keyed_before: bool, first: bool
) -> str | None:
    """Why one event (already in sequence) does not verify, or None."""
    if row["prev_hash"] != prev:
        return "prev_hash does not match the previous event"
    key_id = row["key_id"]
    if key_id is None:
        if keyed_before:
            return "a plain SHA-256 event after a keyed one (rewritten to the old format)"
        if rules.legacy_cutoff is None:
            return (
                "a plain SHA-256 event, and MAESTRO_AUDIT_LEGACY_CUTOFF is unset (set it if this log began before "
                "keyed events; otherwise the event was rewritten to the old format)"
            )
        return None if event_hash(row) == row["hash"] else "hash mismatch (event altered)"
    key = rules.keys.get(key_id)
    if key is None:
        return f"signed with an unknown audit key {key_id} (add the key to MAESTRO_AUDIT_RETIRED_KEYS)"
    if not hmac.compare_digest(keyed_event_hash(row, key), row["hash"]):
        return "hash mismatch (event altered)"
    cutoff = rules.legacy_cutoff
    if not keyed_before and not first and (cutoff is None or row["occurred_at"] >= cutoff):
        return "the chain turns from plain to keyed after MAESTRO_AUDIT_LEGACY_CUTOFF (rewritten to the old format)"
    return None


async def verify_chain(
    conn: AsyncConnection, tenant_id: uuid.UUID, rules: VerifyRules, anchor: ChainHead | None = None
) -> tuple[int, ChainHead, ChainProblem | None]:
    """Walk one tenant's chain in ``seq`` order; return (events checked, its head, first problem or None).

    ``anchor``, a head recorded earlier outside the database, must still be in the chain, unchanged.
    The caller's transaction must see the tenant's audit rows (tenant or platform scope set)."""
    expected_seq, prev, keyed = 1, GENESIS_HASH, False
    count = 0

    def problem(event_id: int | None, seq: int, reason: str) -> tuple[int, ChainHead, ChainProblem]:
        return count, ChainHead(expected_seq - 1, prev), ChainProblem(tenant_id, event_id, seq, reason)

    async for row in _rows(conn, tenant_id):
        count += 1
        seq, event_id = int(row["seq"]), int(row["id"])
        if seq != expected_seq:
            return problem(event_id, seq, f"sequence gap: expected seq {expected_seq} (event deleted?)")
        reason = _event_problem(row, prev, rules, keyed, first=seq == 1)
        if reason is not None:
            return problem(event_id, seq, reason)
        if anchor is not None and seq == anchor.seq and row["hash"] != anchor.hash:
            return problem(event_id, seq, "differs from the anchored head (history rewritten)")
        keyed = keyed or row["key_id"] is not None
        prev, expected_seq = str(row["hash"]), seq + 1
    last = expected_seq - 1
    head = await conn.execute(text("SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = :t"), {"t": tenant_id})
    head_row = head.first()
    if head_row is not None and (int(head_row[0]) != last or head_row[1] != prev):
        return problem(
            None,
            int(head_row[0]),
            f"chain head is at seq {head_row[0]} but the last event is seq {last} (tail deleted?)",
        )
    if anchor is not None and last < anchor.seq:
        return problem(None, anchor.seq, f"the chain ends at seq {last}, before the anchored seq (tail deleted)")
    if count and not keyed:
        return problem(
            None,
            last,
            "no keyed event: the chain was never sealed (`maestro-api audit seal`) or was rewritten to the old format",
        )
    return count, ChainHead(last, prev), None


_PLAIN_HEADS = text(
    "SELECT h.tenant_id FROM audit_chain_heads h "
    "JOIN audit_events e ON e.tenant_id = h.tenant_id AND e.seq = h.seq WHERE e.key_id IS NULL ORDER BY h.tenant_id"
)
SEAL_ACTOR = "cli:audit-seal"


async def seal_chains(sessionmaker: async_sessionmaker[AsyncSession], cutoff: datetime) -> list[uuid.UUID]:
    """Append a keyed ``audit:seal`` event to every chain that ends with a plain event; return their tenants.

    Run once, at the switch-over to keyed events and before ``cutoff`` (``MAESTRO_AUDIT_LEGACY_CUTOFF``): the seal
    pins each old chain under the key, and after the cutoff a chain that passes from plain to keyed is a finding.
    """
    if datetime.now(UTC) >= cutoff:
        raise ValueError(f"MAESTRO_AUDIT_LEGACY_CUTOFF ({cutoff.isoformat()}) has passed: a seal now would not verify")
    async with tenant_transaction(sessionmaker, tenant_id=uuid.UUID(int=0), platform=True) as session:
        tenants = [r[0] for r in await session.execute(_PLAIN_HEADS)]
    for tenant_id in tenants:
        async with tenant_transaction(sessionmaker, tenant_id=tenant_id) as session:
            await append_event(
                session,
                tenant_id=tenant_id,
                actor=SEAL_ACTOR,
                action="audit:seal",
                target="chain",
                outcome="success",
                request_id="-",
                client_address="cli",
            )
    return tenants
