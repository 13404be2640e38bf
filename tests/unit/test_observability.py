"""Dashboards and rules from dashboards/ become ConfigMaps and PrometheusRules: one per file, globbed at run time."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.config import ObservabilityConfig, load_ports
from components.kubernetes.observability import DASHBOARDS_DIR, RULES_DIR, Observability, ObservabilityArgs
from maestro.offline import mockrun
from tests.unit.stacks import SHIPPED, evaluated

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


def _evaluate_component(dashboards: Path, rules: Path) -> mockrun.RecordedResources:
    program = FIXTURES / "observability_program.py"
    config = {"maestro:dashboards": str(dashboards), "maestro:rules": str(rules)}
    return mockrun.evaluate_config("unit", config, program=program)


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
    assert ObservabilityArgs(config=ObservabilityConfig(), ports=load_ports(), storage_class="x").rules_dir == RULES_DIR
    assert issubclass(Observability, pulumi.ComponentResource)
