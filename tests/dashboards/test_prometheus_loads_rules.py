"""A real Prometheus (Debian's, on loopback) loads every rule file without error and its rules API lists every
alert and recording rule: the same check the lab does against its monitoring host."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from dashboards.alerts import GROUPS
from maestro.paths import ROOT
from tests.dashboards.ready_server import ready_server

pytestmark = pytest.mark.servers


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("prometheus")
    rule_files = sorted(str(p) for p in (ROOT / "dashboards/rules").glob("*.yml"))
    config = {"global": {"evaluation_interval": "1m"}, "rule_files": rule_files}
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}"]
    with ready_server(("prometheus",), args, work) as url:
        yield url


def test_prometheus_lists_every_alert_and_recording_rule(prometheus_url: str) -> None:
    groups = _get(f"{prometheus_url}/api/v1/rules")["data"]["groups"]
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    records = {r["name"] for g in groups for r in g["rules"] if r["type"] == "recording"}
    assert alerts == {a.name for g in GROUPS for a in g.alerts}
    assert records == {r.record for g in GROUPS for r in g.recordings}
    config_ok = _get(f"{prometheus_url}/api/v1/status/runtimeinfo")["data"]["reloadConfigSuccess"]
    assert config_ok is True
