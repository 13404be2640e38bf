"""The restore drill on the lab, through the operator CLI (maestro/lab/drill.py has the steps).

It loses the whole cluster and rebuilds it in place, so it runs after the tests that need the original cluster
(file order: e2e, failover, idempotence, mlflow_client, restore_drill, roles); test_roles then checks the
rebuilt hosts like any others.
"""

from __future__ import annotations

from typing import Any

import pytest

from maestro.lab.drill import run_drill

pytestmark = pytest.mark.lab


def test_whole_cluster_loss_then_point_in_time_restore(lab_endpoints: dict[str, Any]) -> None:
    result = run_drill()
    print(result.as_dict())
    # Restore to `latest` into the drill host: every archived commit is back, in order, nothing invented; the
    # commits after the last archived segment are the ones lost.
    assert result.exact_after_latest, result.as_dict()
    assert result.archived_rows == 120
    assert result.committed_before_loss == 150
    assert 0 <= result.lost_on_cluster_loss <= 30
    # Restore in place to T: exactly the 80 commits up to T, row for row and by checksum.
    assert result.expected_at_target == 80
    assert result.restored_at_target == 80
    assert result.exact_at_target, result.as_dict()
    # One leader, every replica running, a synchronous standby (wait_healthy raised otherwise), and the API ready.
    assert sorted(m["name"] for m in result.members) == ["db1", "db2", "db3"]
    # The replica whose PostgreSQL outlived its Patroni was stopped by the restore: one server per member.
    assert result.postmasters == {"db1": 1, "db2": 1, "db3": 1}, result.postmasters
    assert result.rto_api_seconds is not None, "the API never answered /readyz 200 after the restore"
