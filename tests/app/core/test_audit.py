"""The audit hash: deterministic, and sensitive to every field and to the previous hash."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from maestro_api.core.audit import GENESIS_HASH, event_hash

BASE = {
    "tenant_id": uuid.UUID(int=1),
    "seq": 1,
    "occurred_at": datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
    "actor": "api_key:k",
    "action": "models:create",
    "target": "model:m",
    "outcome": "success",
    "request_id": "r",
    "client_address": "10.0.0.1",
    "prev_hash": GENESIS_HASH,
}


def test_hash_is_deterministic_and_timezone_independent() -> None:
    h = event_hash(BASE)
    assert h == event_hash(BASE)
    shifted = {**BASE, "occurred_at": BASE["occurred_at"].astimezone(timezone(timedelta(hours=2)))}  # type: ignore[attr-defined]
    assert event_hash(shifted) == h


@pytest.mark.parametrize(
    ("field", "value"),
    [("seq", 2), ("actor", "api_key:other"), ("outcome", "denied"), ("prev_hash", "1" * 64), ("target", "model:x")],
)
def test_changing_any_field_changes_the_hash(field: str, value: object) -> None:
    assert event_hash({**BASE, field: value}) != event_hash(BASE)


def test_the_hash_of_a_known_event_is_stable() -> None:
    """Chains written by earlier versions must still verify: the canonical form may not change."""
    event = {
        "tenant_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "seq": 7,
        "occurred_at": datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC),
        "actor": "api_key:k1",
        "action": "models:create",
        "target": "model:churn",
        "outcome": "success",
        "request_id": "req-1",
        "client_address": "203.0.113.7",
        "prev_hash": GENESIS_HASH,
    }
    assert event_hash(event) == "870b172172609c790960b0293c7078b2c578c7b25faeed5c26305b4abc366d51"
