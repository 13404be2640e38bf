"""The generated Grafana dashboards: the six required, every panel titled, described and with a unit, and the
datasource, job and instance as template variables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboards.boards import BOARDS
from dashboards.boards._common import Panel, Query, age, quantile, rate_by, share
from maestro.paths import ROOT

REQUIRED = {"maestro-overview", "maestro-api", "maestro-postgres", "maestro-redis", "maestro-mlflow", "maestro-backups"}


def load(uid: str) -> dict[str, Any]:
    return json.loads((ROOT / "dashboards/generated" / f"{uid}.json").read_text())


def test_the_six_dashboards_exist() -> None:
    assert {b.uid for b in BOARDS} == REQUIRED
    assert {p.stem for p in (ROOT / "dashboards/generated").glob("*.json")} == REQUIRED


@pytest.mark.parametrize("uid", sorted(REQUIRED))
def test_every_panel_has_title_description_unit_and_the_datasource_variable(uid: str) -> None:
    board = load(uid)
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert panels
    for p in panels:
        assert p["title"] and p["description"], p
        assert p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])


@pytest.mark.parametrize("uid", sorted(REQUIRED))
def test_datasource_job_and_instance_are_template_variables(uid: str) -> None:
    variables = {v["name"]: v for v in load(uid)["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["type"] == "query" and variables["instance"]["type"] == "query"
    assert "$job" in variables["instance"]["query"]


def test_api_dashboard_covers_red_rate_limits_auth_cache_and_variants() -> None:
    exprs = " ".join(t["expr"] for p in load("maestro-api")["panels"] if p["type"] != "row" for t in p["targets"])
    for metric in (
        "maestro_http_requests_total",
        "maestro_http_request_duration_seconds_bucket",
        "maestro_rate_limit_rejections_total",
        "maestro_auth_failures_total",
        "maestro_registry_cache_requests_total",
        "maestro_deployment_route_total",
    ):
        assert metric in exprs


def test_a_panel_without_unit_or_description_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="unit"):
        Panel("timeseries", "Requests", "Requests per second.", "", (Query("up"),))
    with pytest.raises(ValueError, match="description"):
        Panel("timeseries", "Requests", " ", "reqps", (Query("up"),))


def test_query_shapes_read_the_selected_jobs_and_instances_and_name_series_by_their_labels() -> None:
    sel = 'job=~"$job", instance=~"$instance"'
    assert rate_by("x_total", "tier, scope") == Query(
        f"sum by (tier, scope) (rate(x_total{{{sel}}}[$__rate_interval]))", "{{tier}} {{scope}}"
    )
    assert rate_by("x_total", legend="all") == Query(f"sum(rate(x_total{{{sel}}}[$__rate_interval]))", "all")
    assert share("x_total", 'code="5"', "route").expr == (
        f'sum by (route) (rate(x_total{{{sel}, code="5"}}[$__rate_interval]))\n'
        f"  / sum by (route) (rate(x_total{{{sel}}}[$__rate_interval]))"
    )
    assert quantile(0.5, "d_seconds", "op") == Query(
        f"histogram_quantile(0.5, sum by (op, le) (rate(d_seconds_bucket{{{sel}}}[$__rate_interval])))", "{{op}}"
    )
    assert age("t_seconds", "cluster") == Query(f"time() - max by (cluster) (t_seconds{{{sel}}})", "{{cluster}}")
