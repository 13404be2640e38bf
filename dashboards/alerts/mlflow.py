"""Alerts on MLflow as the API sees it. MLflow 3.17 under uvicorn exposes no Prometheus endpoint of its own that
we deploy, so its health is measured where it matters: the API's calls to it (maestro_mlflow_*)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import runbook, sel
from dashboards.model import Alert, RuleGroup, Scenario

API = c.job("api")
INST = {"job": "maestro-api", "instance": "api1:8000", "instance_name": "api1"}
CHECK = "`curl -sf http://<mlflow>:5000/health` from an API host; `systemctl status mlflow` or `kubectl get pods`"

ALERTS = (
    Alert(
        name="MlflowUnavailable",
        expr=(
            f'sum by (job) (rate(maestro_mlflow_errors_total{{{API}, kind=~"unavailable|upstream_5xx"}}[5m]))\n'
            f"  > {c.MLFLOW_ERRORS_PER_SECOND}"
        ),
        for_="5m",
        severity="critical",
        summary="The API cannot get answers from MLflow.",
        description="Calls from {{ $labels.job }} to MLflow fail {{ $value | humanize }} times per second "
        "(unavailable or 5xx).",
        runbook=runbook(
            "MLflow is down or failing: model registry reads, run tracking and the MLflow client proxy fail "
            "for every tenant (the registry cache only hides it for cached models).",
            confirm=[CHECK, "The MLflow service log; its database connection (Postgres alerts)."],
            fix=[
                "Restart MLflow; a database outage shows as PatroniNoLeader or PostgresExporterDown.",
                "Artifact store errors: check the artifact bucket's credentials (workload identity on Kubernetes).",
            ],
            verify=["The error rate on the MLflow dashboard returns to 0."],
        ),
        scenario=Scenario(
            series={sel("maestro_mlflow_errors_total", **INST, kind="unavailable"): "0+60x20"},
            onset="1m",
            labels={"job": "maestro-api"},
            description="Calls from maestro-api to MLflow fail 1 times per second (unavailable or 5xx).",
        ),
    ),
    Alert(
        name="MlflowTimeouts",
        expr=f'sum by (job) (rate(maestro_mlflow_errors_total{{{API}, kind="timeout"}}[5m])) > '
        f"{c.MLFLOW_ERRORS_PER_SECOND}",
        for_="10m",
        severity="warning",
        summary="The API's calls to MLflow time out.",
        description="{{ $value | humanize }} MLflow calls per second from {{ $labels.job }} time out.",
        runbook=runbook(
            "MLflow is overloaded (it is CPU-bound at a few hundred requests per second on 2 cores) or blocked "
            "on its database.",
            confirm=["MLflow dashboard: call latency and rate; CPU of the MLflow hosts or pods."],
            fix=["Scale MLflow out (more workers or replicas); find slow queries on its database."],
            verify=["The timeout rate returns to 0."],
        ),
        scenario=Scenario(
            series={sel("maestro_mlflow_errors_total", **INST, kind="timeout"): "0+60x20"},
            onset="1m",
            labels={"job": "maestro-api"},
            description="1 MLflow calls per second from maestro-api time out.",
        ),
    ),
    Alert(
        name="MlflowHighLatency",
        expr=(
            "histogram_quantile(0.99,\n"
            f"  sum by (job, operation, le) (rate(maestro_mlflow_request_duration_seconds_bucket{{{API}}}[5m]))\n"
            f") > {c.MLFLOW_P99_SECONDS}"
        ),
        for_="15m",
        severity="warning",
        summary="MLflow answers the API slowly.",
        description="P99 of MLflow operation {{ $labels.operation }} is {{ $value | humanizeDuration }}.",
        runbook=runbook(
            "MLflow is slow for one operation; API routes that call it are slow too.",
            confirm=["MLflow dashboard, panel 'MLflow call latency by operation'."],
            fix=["Search operations scan many runs: check the tracking database's indexes and load."],
            verify=["The P99 falls below 2 s."],
        ),
        scenario=Scenario(
            series={
                sel("maestro_mlflow_request_duration_seconds_bucket", **INST, operation="search_runs", le="2.5"): (
                    "0+50x30"
                ),
                sel("maestro_mlflow_request_duration_seconds_bucket", **INST, operation="search_runs", le="5"): (
                    "0+100x30"
                ),
                sel("maestro_mlflow_request_duration_seconds_bucket", **INST, operation="search_runs", le="+Inf"): (
                    "0+100x30"
                ),
            },
            onset="1m",
            labels={"job": "maestro-api", "operation": "search_runs"},
            description="P99 of MLflow operation search_runs is 4.95s.",
        ),
    ),
    Alert(
        name="MlflowProxyUpstreamErrors",
        expr=f"sum by (job, route) (rate(maestro_mlflow_proxy_upstream_errors_total{{{API}}}[5m])) > "
        f"{c.MLFLOW_ERRORS_PER_SECOND}",
        for_="10m",
        severity="warning",
        summary="The MLflow client proxy gets errors from MLflow.",
        description="The MLflow proxy route {{ $labels.route }} gets {{ $value | humanize }} upstream errors "
        "per second.",
        runbook=runbook(
            "Stock MLflow clients that go through the API's /mlflow/ proxy get errors.",
            confirm=["MLflow dashboard, panel 'Proxy upstream errors by route'; the API log for the route."],
            fix=["See MlflowUnavailable; artifact routes also depend on the artifact bucket."],
            verify=["The error rate returns to 0."],
        ),
        scenario=Scenario(
            series={
                sel(
                    "maestro_mlflow_proxy_upstream_errors_total", **INST, route="/mlflow/api/2.0/mlflow/runs/get"
                ): "0+60x30",
            },
            onset="1m",
            labels={"job": "maestro-api", "route": "/mlflow/api/2.0/mlflow/runs/get"},
            description="The MLflow proxy route /mlflow/api/2.0/mlflow/runs/get gets 1 upstream errors per second.",
        ),
    ),
)

GROUP = RuleGroup(name="maestro-mlflow", file="mlflow", area="MLflow", alerts=ALERTS)
