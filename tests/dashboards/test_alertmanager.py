"""The Alertmanager config: valid for amtool, routes by severity, HostDown inhibits its host, no secrets."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from maestro.paths import ROOT

CONFIG = ROOT / "dashboards/alertmanager/alertmanager.yml"


def test_amtool_accepts_the_config(amtool: str) -> None:
    result = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_rejects_a_broken_config(amtool: str, tmp_path: Path) -> None:
    bad = tmp_path / "am.yml"
    bad.write_text(CONFIG.read_text().replace("receiver: ticket\n", "receiver: nobody\n", 1))
    assert subprocess.run([amtool, "check-config", str(bad)], capture_output=True, text=True).returncode != 0


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=PatroniNoLeader", "severity=critical"], "pager"),
        (["alertname=HostFilesystemAlmostFull", "severity=warning"], "ticket"),
        (["alertname=ApiRegistryCacheHitRateLow", "severity=info"], "chat"),
        (["alertname=Watchdog", "severity=none"], "deadman"),
    ],
)
def test_routing_by_severity(amtool: str, labels: list[str], receiver: str) -> None:
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [receiver]


def test_host_down_inhibits_that_hosts_other_alerts() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    rule = next(r for r in config["inhibit_rules"] if r["source_matchers"] == ['alertname="HostDown"'])
    assert rule["equal"] == ["instance_name"]
    assert 'alertname!="HostDown"' in rule["target_matchers"]


def test_grouping_keeps_alerts_of_one_place_together() -> None:
    route = yaml.safe_load(CONFIG.read_text())["route"]
    assert {"alertname", "instance_name"} <= set(route["group_by"])


def test_no_secret_values_in_the_config() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    secret_keys = re.compile(r"^(routing_key|service_key|api_url|api_key|password|credentials|token|auth_password)$")

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                assert not secret_keys.match(str(k)), f"{path}.{k} holds a secret; use the *_file variant"
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(config, "alertmanager")
    for receiver in config["receivers"]:
        configs = [c for k, v in receiver.items() if k.endswith("_configs") for c in v]
        assert configs, receiver["name"]
        for c in configs:
            assert any(k.endswith("_file") for k in c) or "credentials_file" in str(c.get("http_config")), c


def test_every_alertname_the_config_names_is_a_real_alert() -> None:
    from tests.dashboards.conftest import ALL_ALERTS

    names = {a.name for a in ALL_ALERTS}
    config = yaml.safe_load(CONFIG.read_text())
    matchers = [m for r in config["inhibit_rules"] for k in ("source_matchers", "target_matchers") for m in r[k]]
    matchers += [m for r in config["route"]["routes"] for m in r.get("matchers", [])]
    checked = 0
    for matcher in matchers:
        found = re.fullmatch(r'alertname(=~|!=|=)"(.+)"', matcher)
        if not found:
            continue
        op, value = found.groups()
        alternatives = re.findall(r"[A-Za-z]+\([^)]*\)|[A-Za-z]+", value) if op == "=~" else [value]
        for alt in alternatives:
            assert any(re.fullmatch(alt, n) for n in names), f"{matcher}: {alt} matches no alert"
        checked += 1
    assert checked >= 5
