"""The network matrix (config/network.yaml) and its validator (config/network.py): the shipped matrix is valid and
names exactly the inventory's groups; every kind of mistake is refused with a message naming the entry."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import network
from config.network import MatrixError, validate
from maestro.paths import ROOT


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(network.MATRIX_FILE.read_text())
    return data


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    data: dict[str, int] = yaml.safe_load(network.PORTS_FILE.read_text())
    return data


def test_the_shipped_matrix_is_valid() -> None:
    matrix = network.load()
    assert len(matrix.flows) >= 20
    assert all(f.why for f in matrix.flows)


def test_the_roles_are_exactly_the_inventory_groups(shipped: dict[str, Any]) -> None:
    # The groups site.yml plays on, and those the example inventory declares (monitoring runs on `all` in site.yml).
    site = yaml.safe_load((ROOT / "ansible" / "site.yml").read_text())
    example = yaml.safe_load((ROOT / "ansible" / "inventories" / "example" / "hosts.yml").read_text())
    groups = {play["hosts"] for play in site} | set(example["all"]["children"])
    assert set(shipped["roles"]) - network.SOURCE_ONLY == groups


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["flows"][0].update(port="no_such_port"), r"flow 1: port 'no_such_port' is not in"),
        (lambda d: d["flows"][1].update(to="databse"), r"flow 2: destination 'databse' is not a role"),
        (lambda d: d["flows"][0].update(to="public"), r"flow 1: destination 'public' is not a role"),
        (lambda d: d["flows"][2]["from"].append("intruders"), r"flow 3: unknown source role\(s\) intruders"),
        (lambda d: d["flows"][0].update({"from": []}), r"flow 1: `from` must be a non-empty list"),
        (lambda d: d["flows"][0].update(why=" "), r"flow 1: `why` must say what needs edge:https"),
        (lambda d: d["flows"][0].pop("why"), r"flow 1 must have exactly the keys"),
        (lambda d: d["flows"].append(dict(d["flows"][0])), r"repeats public -> edge:https"),
        (lambda d: d["roles"].pop("operators"), r"`roles` must declare operators"),
        (lambda d: d.update(extra=1), r"exactly the keys `roles` and `flows`"),
    ],
)
def test_a_broken_matrix_is_refused_naming_the_entry(
    shipped: dict[str, Any], ports: dict[str, int], mutate: Any, message: str
) -> None:
    data = copy.deepcopy(shipped)
    mutate(data)
    with pytest.raises(MatrixError, match=message):
        validate(data, ports)


def test_allows_follows_the_flows() -> None:
    matrix = network.load()
    # MLflow only from the API; the edge reaches the API and nothing behind it.
    assert matrix.allows({"api"}, {"mlflow"}, "mlflow")
    assert not matrix.allows({"edge"}, {"mlflow", "api", "haproxy"}, "mlflow")
    assert matrix.allows({"edge"}, {"mlflow", "api", "haproxy"}, "api")
    assert not matrix.allows({"edge"}, {"etcd", "postgres"}, "etcd_client")
    # `all` as a destination: node_exporter on every host, from the monitoring host only.
    assert matrix.allows({"monitoring"}, {"edge"}, "node_exporter")
    assert not matrix.allows({"api"}, {"edge"}, "node_exporter")
    # `public`: anyone, other platform hosts included, reaches the edge's HTTPS port and nothing else.
    assert matrix.allows({"postgres"}, {"edge"}, "https")
    assert not matrix.allows({"public"}, {"monitoring"}, "prometheus")
    assert matrix.allows({"operators"}, {"monitoring"}, "prometheus")
    assert not matrix.allows({"operators"}, {"mlflow"}, "mlflow")


def test_the_script_exits_1_with_the_error(tmp_path: Path, shipped: dict[str, Any]) -> None:
    script = ROOT / "config" / "network.py"
    ok = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"\d+ flows", ok.stdout)
    broken = copy.deepcopy(shipped)
    broken["flows"][3]["port"] = "telnet"
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump(broken))
    cmd = [sys.executable, str(script), "--matrix", str(path)]
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "flow 4: port 'telnet' is not in config/ports.yaml" in bad.stderr
