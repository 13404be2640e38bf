"""Every query parses (Prometheus' own parser, through promtool) and reads only metrics that something we deploy
exports: an exporter in the fixture, the API's registry, or one of our recording rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from tests.dashboards.promql_checks import (
    exporter_metrics,
    metric_names,
    promtool_parse,
    registry_metrics,
    substitute_variables,
    unknown_metrics,
)


def api_metrics() -> set[str]:
    # Fails (ImportError) rather than skips while the API's metrics module is missing.
    from maestro_api import metrics

    return registry_metrics(metrics.REGISTRY)


@pytest.fixture(scope="session")
def known(recorded_names: set[str]) -> set[str]:
    return exporter_metrics() | api_metrics() | recorded_names


def test_every_dashboard_query_parses_with_promtool(promtool: str, dashboard_queries: list[str]) -> None:
    result = promtool_parse(dashboard_queries)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_parse_check_fails_on_a_syntax_error(promtool: str) -> None:
    assert promtool_parse(['sum(rate(maestro_http_requests_total{job=~"$job"}[$__rate_interval])']).returncode != 0
    assert promtool_parse(['sum(rate(maestro_http_requests_total{job=~"$job"}[$__rate_interval]))']).returncode == 0


def test_every_dashboard_metric_exists(dashboard_queries: list[str], known: set[str]) -> None:
    assert unknown_metrics(dashboard_queries, known) == {}


def test_every_rule_metric_exists(rule_exprs: list[str], known: set[str]) -> None:
    assert unknown_metrics(rule_exprs, known) == {}


def test_a_misspelt_metric_fails_the_check(known: set[str]) -> None:
    good = 'sum(rate(maestro_http_requests_total{job="maestro-api"}[5m]))'
    bad = 'sum(rate(maestro_http_request_total{job="maestro-api"}[5m]))'
    assert unknown_metrics([good], known) == {}
    assert unknown_metrics([bad], known) == {bad: {"maestro_http_request_total"}}


def test_the_api_registry_provides_the_documented_metrics() -> None:
    names = api_metrics()
    for metric in (
        "maestro_http_requests_total",
        "maestro_http_request_duration_seconds_bucket",
        "maestro_deployment_route_total",
        "maestro_db_pool_size",
    ):
        assert metric in names


def test_metric_names_walks_every_node_kind() -> None:
    expr = (
        "-sum by (job) (rate(a_total[5m])) / on () group_left max_over_time(b[1h:5m])"
        ' and {__name__="c"} or histogram_quantile(0.9, d_bucket) > bool 1'
    )
    assert metric_names(expr) == {"a_total", "b", "c", "d_bucket"}
    with pytest.raises(ValueError, match="literal metric name"):
        metric_names('{__name__=~"maestro_.*"}')


def test_variables_are_substituted_into_parseable_values() -> None:
    assert substitute_variables('rate(x{job=~"$job", i=~"${instance}"}[$__rate_interval])') == (
        'rate(x{job=~"x", i=~"x"}[5m])'
    )


def scraped_api_metrics() -> set[str]:
    """Metric names in the /metrics output of an in-process API test instance (lifespan run, no servers needed)."""
    import warnings

    from prometheus_client.parser import text_string_to_metric_families

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    from maestro_api.core.config import Settings
    from maestro_api.main import create_app
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    with TestClient(create_app(Settings(), span_exporter=InMemorySpanExporter())) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return registry_metrics(_Families(text_string_to_metric_families(response.text)))


class _Families:
    """Adapts parsed metric families to the registry interface registry_metrics() reads."""

    def __init__(self, families: Iterable[Any]) -> None:
        self._families = list(families)

    def collect(self) -> list[Any]:
        return self._families


# A real API instance (in-process, lifespan included): importing the whole app takes tens of seconds on a loaded
# machine, so this runs with the server tests; the registry-based check above covers the fast suite.
@pytest.mark.servers
def test_every_api_metric_we_use_is_in_a_test_instances_metrics_output(
    dashboard_queries: list[str], rule_exprs: list[str], recorded_names: set[str]
) -> None:
    used = {m for e in dashboard_queries + rule_exprs for m in metric_names(substitute_variables(e))}
    used_api = {m for m in used if m.startswith("maestro_")} - recorded_names - exporter_metrics()
    assert used_api, "the dashboards and rules use API metrics"
    assert used_api - scraped_api_metrics() == set()
