"""The versions docs/alerts.md states are the ones the metric-name fixture was checked against, for both releases."""

from __future__ import annotations

import pytest
import yaml

from dashboards import config
from tests.dashboards.promql_checks import FIXTURE, exporter_metrics

FIXTURE_SOURCES = {
    "node_exporter": "node_exporter",
    "postgres_exporter": "postgres_exporter",
    "redis_exporter": "redis_exporter",
    "patroni": "Patroni",
    "etcd": "etcd",
    "haproxy": "HAProxy",
    "prometheus": "Prometheus",
    "alertmanager": "Alertmanager",
}


@pytest.mark.parametrize(("source", "component"), sorted(FIXTURE_SOURCES.items()))
def test_each_source_was_checked_against_both_releases_versions(source: str, component: str) -> None:
    text = yaml.safe_load(FIXTURE.read_text())[source]["source"]
    for version in config.COVERED_VERSIONS[component]:
        assert ".".join(version.split(".")[:2]) in text, (source, version)


def test_a_name_only_one_release_exports_is_not_accepted() -> None:
    data = yaml.safe_load(FIXTURE.read_text())
    single = {m for source in data.values() for key in ("only_debian12", "only_debian13") for m in source.get(key, [])}
    assert "patroni_master" in single
    assert not single & exporter_metrics()
