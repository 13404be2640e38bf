"""Alerts on MLflow as the API sees it. MLflow 3.17 under uvicorn exposes no Prometheus endpoint of its own that
we deploy, so its health is measured where it matters: the API's calls to it (maestro_mlflow_*)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import API, runbook
from dashboards.alerts.shapes import counter, quantile
from dashboards.model import Alert, Condition, RuleGroup

CHECK = "`curl -sf http://<mlflow>:5000/health` from an API host; `systemctl status mlflow` or `kubectl get pods`"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
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
        "5m",
        "critical",
        "The API cannot get answers from MLflow.",
        "Calls from {{ $labels.job }} to MLflow fail {{ $value | humanize }} times per second (unavailable or 5xx).",
        runbook(
            "MLflow is down or failing: model registry reads, run tracking and the MLflow client proxy fail "
            "for every tenant (the registry cache only hides it for cached models).",
            [CHECK, "The MLflow service log; its database connection (Postgres alerts)."],
            [
                "Restart MLflow; a database outage shows as PatroniNoLeader or PostgresExporterDown.",
                "Artifact store errors: check the artifact bucket's credentials (workload identity on Kubernetes).",
            ],
            ["The error rate on the MLflow dashboard returns to 0."],
        ),
        "1",
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
        "10m",
        "warning",
        "The API's calls to MLflow time out.",
        "{{ $value | humanize }} MLflow calls per second from {{ $labels.job }} time out.",
        runbook(
            "MLflow is overloaded (it is CPU-bound at a few hundred requests per second on 2 cores) or blocked "
            "on its database.",
            ["MLflow dashboard: call latency and rate; CPU of the MLflow hosts or pods."],
            ["Scale MLflow out (more workers or replicas); find slow queries on its database."],
            ["The timeout rate returns to 0."],
        ),
        "1",
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
        "15m",
        "warning",
        "MLflow answers the API slowly.",
        "P99 of MLflow operation {{ $labels.operation }} is {{ $value | humanizeDuration }}.",
        runbook(
            "MLflow is slow for one operation; API routes that call it are slow too.",
            ["MLflow dashboard, panel 'MLflow call latency by operation'."],
            ["Search operations scan many runs: check the tracking database's indexes and load."],
            ["The P99 falls below 2 s."],
        ),
        "4.95s",
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
        "10m",
        "warning",
        "The MLflow client proxy gets errors from MLflow.",
        "The MLflow proxy route {{ $labels.route }} gets {{ $value | humanize }} upstream errors per second.",
        runbook(
            "Stock MLflow clients that go through the API's /mlflow/ proxy get errors.",
            ["MLflow dashboard, panel 'Proxy upstream errors by route'; the API log for the route."],
            ["See MlflowUnavailable; artifact routes also depend on the artifact bucket."],
            ["The error rate returns to 0."],
        ),
        "1",
    ),
)

GROUP = RuleGroup(name="maestro-mlflow", file="mlflow", area="MLflow", alerts=ALERTS)
