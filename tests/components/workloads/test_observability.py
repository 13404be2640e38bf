"""Dashboards and rules from dashboards/ become ConfigMaps and PrometheusRules: one per file, globbed at run time."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.config import ObservabilityConfig
from components.workloads.observability import Observability, ObservabilityArgs
from maestro.offline import mockrun
from tests.components.stacks import DASHBOARDS_DIR, PORTS, RULES_DIR, SHIPPED, evaluated

pytestmark = pytest.mark.stacks

FIXTURES = Path(__file__).parent / "fixtures"


def _kinds(stack: str) -> tuple[list[mockrun.RecordedResource], list[mockrun.RecordedResource]]:
    resources = evaluated(stack)
    dashboards = [
        r
        for r in resources.of_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    rules = resources.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    return dashboards, rules


@pytest.mark.parametrize("stack", SHIPPED)
def test_one_configmap_per_dashboard_and_one_rule_per_file(stack: str) -> None:
    dashboards, rules = _kinds(stack)
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    rule_files = sorted(RULES_DIR.glob("*.yml"))
    assert len(files) > 0 and len(rule_files) > 0, "dashboards/ has content by now"
    assert len(dashboards) == len(files) and len(rules) == len(rule_files)
    names = {next(iter(mockrun.plain(r.inputs)["data"])) for r in dashboards}
    assert names == {f.name for f in files}


def _evaluate_component(dashboards: Path, rules: Path, alertmanager: Path | None = None) -> mockrun.RecordedResources:
    program = FIXTURES / "observability_program.py"
    config = {"maestro:dashboards": str(dashboards), "maestro:rules": str(rules)}
    if alertmanager is not None:
        config["maestro:alertmanager"] = str(alertmanager)
    return mockrun.evaluate_config("unit", config, program=program)


def _alertmanager_config(resources: mockrun.RecordedResources) -> object:
    (stack,) = [r for r in resources.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-prometheus-stack")]
    return mockrun.plain(stack.inputs)["values"]["alertmanager"].get("config")


def test_alertmanager_takes_the_file_it_is_given_and_the_charts_config_otherwise(tmp_path: Path) -> None:
    file = tmp_path / "alertmanager.yml"
    file.write_text("route:\n  receiver: fixture\nreceivers:\n  - name: fixture\n")
    given = _alertmanager_config(_evaluate_component(FIXTURES / "dashboards", FIXTURES / "rules", file))
    assert given == {"route": {"receiver": "fixture"}, "receivers": [{"name": "fixture"}]}
    assert _alertmanager_config(_evaluate_component(FIXTURES / "dashboards", FIXTURES / "rules")) is None
    missing = _evaluate_component(FIXTURES / "dashboards", FIXTURES / "rules", tmp_path / "absent.yml")
    assert _alertmanager_config(missing) is None


def test_component_follows_the_directory_it_is_given(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with_files = _evaluate_component(FIXTURES / "dashboards", FIXTURES / "rules")
    assert len(with_files.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")) == 1
    (rule,) = with_files.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert mockrun.plain(rule.inputs)["spec"]["groups"][0]["rules"][0]["alert"] == "FixtureAlwaysFiring"
    without = _evaluate_component(empty, empty)
    assert not without.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert [r for r in without.of_type("kubernetes:core/v1:ConfigMap")] == []


def test_component_args_are_typed() -> None:
    # The program used above builds exactly this; keep the import honest for mypy and readers.
    args = ObservabilityArgs(
        config=ObservabilityConfig(),
        ports=PORTS,
        storage_class="x",
        dashboards_dir=DASHBOARDS_DIR,
        rules_dir=RULES_DIR,
        alertmanager_file=None,
    )
    assert args.rules_dir == RULES_DIR
    assert issubclass(Observability, pulumi.ComponentResource)
