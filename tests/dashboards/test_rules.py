"""The alert and SLO rules: promtool accepts them, every alert has what operators need, SLO facts hold."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards import config
from dashboards.alerts import GROUPS
from dashboards.render.rules import runbook_url
from maestro.paths import ROOT
from tests.dashboards.conftest import ALL_ALERTS

# libyaml when present: the generated test files are large and the pure-Python loader is slow.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RULE_FILES = sorted((ROOT / "dashboards/rules").glob("*.yml"))
AREAS = {
    "API",
    "API SLOs",
    "Postgres / Patroni",
    "etcd",
    "HAProxy",
    "Redis",
    "MLflow",
    "Backups and DR",
    "WAF",
    "Hosts",
    "Monitoring stack",
}


def test_promtool_accepts_every_rule_file(promtool: str) -> None:
    assert len(RULE_FILES) == len({g.file for g in GROUPS})
    result = subprocess.run([promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_rule_file(promtool: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(up[5m])\n")
    result = subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0


def test_promtool_unit_test_catches_a_changed_threshold(promtool: str, tmp_path: Path) -> None:
    # The generated api tests must fail when the rule changes under them (here: ApiDbPoolSaturated's 0.9 -> 0.99).
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    rules = (ROOT / "dashboards/rules/api.yml").read_text()
    assert "> 0.9\n" in rules
    (tmp_path / "rules/api.yml").write_text(rules.replace("> 0.9\n", "> 0.99\n"))
    shutil.copy(ROOT / "dashboards/tests/api.yml", tmp_path / "tests/api.yml")
    broken = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "tests/api.yml")], capture_output=True, text=True
    )
    assert broken.returncode != 0 and "ApiDbPoolSaturated" in broken.stdout + broken.stderr
    (tmp_path / "rules/api.yml").write_text(rules)
    fixed = subprocess.run([promtool, "test", "rules", str(tmp_path / "tests/api.yml")], capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_at_least_40_alerts_across_every_area() -> None:
    assert len(ALL_ALERTS) >= 40
    assert {g.area for g in GROUPS if g.alerts} == AREAS
    names = [a.name for a in ALL_ALERTS]
    assert len(names) == len(set(names)), "alert names must be unique"


@pytest.mark.parametrize("alert", ALL_ALERTS, ids=lambda a: a.name)
def test_alert_has_what_the_on_call_needs(alert: object) -> None:
    from dashboards.model import Alert

    assert isinstance(alert, Alert)
    assert re.fullmatch(r"[A-Z][a-zA-Z0-9]+", alert.name), "alert names are PascalCase"
    assert alert.severity in {"critical", "warning", "info", "none"}
    assert re.fullmatch(r"\d+[mhd]", alert.for_) and alert.for_ != "0m"
    assert alert.summary.endswith(".") and alert.summary.count(". ") == 0 and "{{" not in alert.summary
    if alert.name != "Watchdog":  # the dead man's switch has no labels to speak of
        assert "{{ $labels." in alert.description, "the description names where (templated with labels)"
    page = ROOT / "runbooks/alerts" / f"{alert.name}.md"
    text = page.read_text()
    for section in ("## Meaning", "## Confirm", "## Fix", "## Verify"):
        assert section in text, f"{page} lacks {section}"


def test_runbook_url_comes_from_the_one_pattern() -> None:
    for path in RULE_FILES:
        for group in yaml.load(path.read_text(), Loader=LOADER)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["annotations"]["runbook_url"] == runbook_url(rule["alert"])
                    assert rule["annotations"]["runbook_url"] == config.RUNBOOK_URL_PATTERN.replace(
                        "{alertname}", rule["alert"]
                    )
                    assert set(rule["labels"]) == {"severity"} and rule["for"]


def test_every_alert_has_its_promtool_case_before_and_at_for() -> None:
    cases = {}
    for path in (ROOT / "dashboards/tests").glob("*.yml"):
        for case in yaml.load(path.read_text(), Loader=LOADER)["tests"]:
            for check in case.get("alert_rule_test", []):
                cases.setdefault(check["alertname"], []).append(check)
    for alert in ALL_ALERTS:
        checks = cases.get(alert.name, [])
        assert any(c["exp_alerts"] == [] for c in checks), f"{alert.name}: no not-yet-firing case"
        firing = [c for c in checks if c["exp_alerts"]]
        assert firing, f"{alert.name}: no firing case"
        assert firing[0]["exp_alerts"][0]["exp_labels"]["severity"] == alert.severity


def test_slo_latency_threshold_is_a_bucket_boundary_of_the_api_histogram() -> None:
    from maestro_api import metrics

    assert config.SLO_LATENCY_THRESHOLD_SECONDS in metrics.LATENCY_BUCKETS
    assert tuple(float(b) for b in config.API_HISTOGRAM_BUCKETS) == tuple(metrics.LATENCY_BUCKETS)
    slo = (ROOT / "dashboards/rules/slo.yml").read_text()
    assert 'le="0.25"' in slo


def test_burn_rate_tiers_follow_the_sre_workbook() -> None:
    tiers = {(b, lw, sw, sev) for _s, b, lw, sw, _f, sev in config.BURN_RATE_ALERTS}
    assert tiers == {(14.4, "1h", "5m", "critical"), (6.0, "6h", "30m", "critical"), (1.0, "3d", "6h", "warning")}
    slo = (ROOT / "dashboards/rules/slo.yml").read_text()
    assert "maestro:api_availability_errors:ratio_rate1h > (14.4 * (1 - 0.999))" in slo
    assert "maestro:api_latency_errors:ratio_rate3d > (1 * (1 - 0.99))" in slo


def test_every_alert_is_in_the_docs_page() -> None:
    doc = (ROOT / "docs/alerts.md").read_text()
    for alert in ALL_ALERTS:
        assert f"| {alert.name} | `{alert.severity}` |" in doc
        assert f"runbooks/alerts/{alert.name}.md" in doc


def test_runbook_pages_link_only_to_files_that_exist() -> None:
    for page in (ROOT / "runbooks/alerts").glob("*.md"):
        for ref in re.findall(r"\b(runbooks/[\w/.-]+\.md)", page.read_text()):
            assert (ROOT / ref).exists(), f"{page.name} refers to missing {ref}"
