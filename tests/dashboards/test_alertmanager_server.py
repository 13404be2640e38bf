"""A real Alertmanager (Debian's, on loopback) with our config: inhibition works as documented."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from maestro.paths import ROOT
from tests.dashboards.ready_server import ready_server

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def alertmanager_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("alertmanager")
    args = [
        f"--config.file={ROOT / 'dashboards/alertmanager/alertmanager.yml'}",
        f"--storage.path={work / 'data'}",
        "--cluster.listen-address=",  # no gossip port: a single test instance
    ]
    with ready_server(("prometheus-alertmanager", "alertmanager"), args, work) as url:
        yield url


def _post(url: str, alerts: list[dict[str, str]]) -> None:
    body = json.dumps([{"labels": labels} for labels in alerts]).encode()
    request = urllib.request.Request(
        f"{url}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _states(url: str) -> dict[tuple[str, str], str]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        alerts: list[dict[str, Any]] = json.load(response)
    return {
        (a["labels"]["alertname"], a["labels"].get("instance_name", a["labels"].get("job", ""))): a["status"]["state"]
        for a in alerts
    }


def test_host_down_suppresses_only_that_hosts_alerts(alertmanager_url: str) -> None:
    _post(
        alertmanager_url,
        [
            {"alertname": "HostDown", "instance_name": "db1", "job": "node", "severity": "critical"},
            {"alertname": "RedisDown", "instance_name": "db1", "job": "redis", "severity": "critical"},
            {
                "alertname": "PostgresTooManyConnections",
                "instance_name": "db1",
                "job": "postgres",
                "severity": "warning",
            },
            {"alertname": "RedisDown", "instance_name": "db2", "job": "redis", "severity": "critical"},
        ],
    )
    states = _states(alertmanager_url)
    assert states[("HostDown", "db1")] == "active"
    assert states[("RedisDown", "db1")] == "suppressed"
    assert states[("PostgresTooManyConnections", "db1")] == "suppressed"
    assert states[("RedisDown", "db2")] == "active"


def test_a_paging_burn_suppresses_the_slow_burn_ticket_of_the_same_slo(alertmanager_url: str) -> None:
    _post(
        alertmanager_url,
        [
            {"alertname": "ApiAvailabilityFastBurn", "job": "maestro-api", "severity": "critical"},
            {"alertname": "ApiAvailabilitySlowBurn", "job": "maestro-api", "severity": "warning"},
            {"alertname": "ApiLatencySlowBurn", "job": "maestro-api", "severity": "warning"},
        ],
    )
    states = _states(alertmanager_url)
    assert states[("ApiAvailabilitySlowBurn", "maestro-api")] == "suppressed"
    assert states[("ApiLatencySlowBurn", "maestro-api")] == "active"
