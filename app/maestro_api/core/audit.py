"""The append-only, per-tenant hash-chained audit log.

Each event's ``hash`` is SHA-256 over its canonical JSON (every field plus the previous event's hash), and
``audit_chain_heads`` remembers each tenant's last ``seq`` and ``hash``; so an altered event breaks its hash, a
deleted one leaves a gap in ``seq`` (or, at the tail, a head that points past the last event).
The service role may only SELECT and INSERT audit rows; a trigger refuses UPDATE/DELETE even to the owner.
"""

from __future__ import annotations

import hashlib
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

from maestro_api.core.db import tenant_transaction
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
    "client_address, prev_hash, hash) VALUES (:tenant_id, :seq, :occurred_at, :actor, :action, :target, :outcome, "
    ":request_id, :client_address, :prev_hash, :hash)"
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
"""What an event's hash covers: every column but its id and the hash itself."""


def event_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 of the event's canonical JSON (its ``HASHED_FIELDS``, sorted keys, UTC microsecond timestamps)."""
    doc = {name: event[name] for name in HASHED_FIELDS}
    doc["tenant_id"] = str(doc["tenant_id"])
    doc["occurred_at"] = doc["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


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
    client = request.client.host if request.client else "-"
    return str(request_id), client


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
    """The chain step itself: lock the tenant's head, hash, insert, move the head."""
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
    digest = event_hash(event)
    await session.execute(_INSERT, {**event, "hash": digest})
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


_EVENTS = text(
    "SELECT id, tenant_id, seq, occurred_at, actor, action, target, outcome, request_id, client_address, "
    "prev_hash, hash FROM audit_events WHERE tenant_id = :t ORDER BY seq"
)


async def _rows(conn: AsyncConnection, tenant_id: uuid.UUID) -> AsyncIterator[dict[str, object]]:
    result = await conn.stream(_EVENTS, {"t": tenant_id})
    async for row in result.mappings():
        yield dict(row)


async def verify_chain(conn: AsyncConnection, tenant_id: uuid.UUID) -> tuple[int, ChainProblem | None]:
    """Walk one tenant's chain in ``seq`` order; return (events checked, first problem or None).

    The caller's transaction must see the tenant's audit rows (tenant or platform scope set)."""
    expected_seq, prev = 1, GENESIS_HASH
    count = 0
    async for row in _rows(conn, tenant_id):
        count += 1
        seq, event_id = int(row["seq"]), int(row["id"])  # type: ignore[call-overload]
        if seq != expected_seq:
            return count, ChainProblem(
                tenant_id, event_id, seq, f"sequence gap: expected seq {expected_seq} (event deleted?)"
            )
        if row["prev_hash"] != prev:
            return count, ChainProblem(tenant_id, event_id, seq, "prev_hash does not match the previous event")
        digest = event_hash({**row, "prev_hash": prev})
        if digest != row["hash"]:
            return count, ChainProblem(tenant_id, event_id, seq, "hash mismatch (event altered)")
        prev, expected_seq = digest, seq + 1
    head = await conn.execute(text("SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = :t"), {"t": tenant_id})
    head_row = head.first()
    if head_row is not None and (int(head_row[0]) != expected_seq - 1 or head_row[1] != prev):
        return count, ChainProblem(
            tenant_id,
            None,
            int(head_row[0]),
            f"chain head is at seq {head_row[0]} but the last event is seq {expected_seq - 1} (tail deleted?)",
        )
    return count, None
