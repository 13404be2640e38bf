"""Failover under load: crash the Patroni leader's host while a client writes through HAProxy."""

from __future__ import annotations

from typing import Any

import pytest

from maestro.lab.failover import run_failover

pytestmark = pytest.mark.lab


def test_failover_under_load_loses_no_acknowledged_write(lab_endpoints: dict[str, Any]) -> None:
    result = run_failover()
    print(result.as_dict())
    assert result.acknowledged > 0
    assert result.lost == 0, result.as_dict()
    assert result.new_leader and result.new_leader != result.old_leader
    assert result.primaries_after == 1
    assert result.haproxy_primaries_after == 1
    assert result.old_leader_rejoined, result.as_dict()
