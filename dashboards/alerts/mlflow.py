"""Alerts on MLflow as the API sees it. MLflow 3.17 under uvicorn exposes no Prometheus endpoint of its own that
we deploy, so its health is measured where it matters: the API's calls to it (maestro_mlflow_*)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import API, runbook
from dashboards.alerts.shapes import counter, quantile
from dashboards.model import Alert, Condition, RuleGroup

CHECK = "`curl -sf http://<mlflow>:5000/health` from an API host; `systemctl status mlflow` or `kubectl get pods`"

ALERTS = (
    Alert(
        "MlflowUnavailable",
        Condition(
            f'sum by (job) (rate(maestro_mlflow_errors_total{{{API.match}, kind=~"unavailable|upstream_5xx"}}[5m]))\n'
            f"  > {c.MLFLOW_ERRORS_PER_SECOND}",
            series={API.series("maestro_mlflow_errors_total", kind="unavailable"): "0+60x20"},
            labels={"job": "maestro-api"},
            onset="1m",
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
        fired="Calls from maestro-api to MLflow fail 1 times per second (unavailable or 5xx).",
    ),
    Alert(
        "MlflowTimeouts",
        counter(
            API,
            "maestro_mlflow_errors_total",
            "5m",
            f"> {c.MLFLOW_ERRORS_PER_SECOND}",
            fn="rate",
            by=("job",),
            match='kind="timeout"',
            labels={"kind": "timeout"},
            values="0+60x20",
        ),
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
        fired="1 MLflow calls per second from maestro-api time out.",
    ),
    Alert(
        "MlflowHighLatency",
        quantile(
            API,
            "maestro_mlflow_request_duration_seconds",
            "operation",
            c.MLFLOW_P99_SECONDS,
            buckets={"2.5": "0+50x30", "5": "0+100x30", "+Inf": "0+100x30"},
            labels={"operation": "search_runs"},
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
        fired="P99 of MLflow operation search_runs is 4.95s.",
    ),
    Alert(
        "MlflowProxyUpstreamErrors",
        counter(
            API,
            "maestro_mlflow_proxy_upstream_errors_total",
            "5m",
            f"> {c.MLFLOW_ERRORS_PER_SECOND}",
            fn="rate",
            by=("job", "route"),
            labels={"route": "/mlflow/api/2.0/mlflow/runs/get"},
            values="0+60x30",
        ),
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
        fired="The MLflow proxy route /mlflow/api/2.0/mlflow/runs/get gets 1 upstream errors per second.",
    ),
)

GROUP = RuleGroup(name="maestro-mlflow", file="mlflow", area="MLflow", alerts=ALERTS)
