"""MLflow, seen from the API (its calls and the client proxy) plus its hosts."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import Board, quantile, rate_by, ts
from dashboards.boards.api import REGISTRY_CACHE_HIT_RATIO

BOARD = Board(
    uid="maestro-mlflow",
    title="Maestro / MLflow",
    description="MLflow as the API sees it: call rate, latency and errors per operation, the client proxy, and "
    "the registry cache that shields MLflow.",
    job_regex=c.job_regex("api"),
    rows=(
        (
            "Calls from the API",
            (
                ts(
                    "MLflow call rate by operation",
                    "Calls per second from the API to MLflow, per operation.",
                    "reqps",
                    rate_by("maestro_mlflow_request_duration_seconds_count", "operation"),
                ),
                ts(
                    "MLflow call latency by operation",
                    "P99 duration of the API's calls to MLflow, per operation.",
                    "s",
                    quantile(0.99, "maestro_mlflow_request_duration_seconds", "operation"),
                ),
                ts(
                    "MLflow errors by kind",
                    "Failed MLflow calls per second: timeout, unavailable, bad_request, upstream_5xx.",
                    "reqps",
                    rate_by("maestro_mlflow_errors_total", "kind"),
                ),
                ts(
                    "Registry cache hit ratio",
                    "Share of registry reads answered without MLflow.",
                    "percentunit",
                    REGISTRY_CACHE_HIT_RATIO,
                ),
            ),
        ),
        (
            "Client proxy",
            (
                ts(
                    "Proxy latency by route",
                    "P99 duration of /mlflow/ proxy requests, per route.",
                    "s",
                    quantile(0.99, "maestro_mlflow_proxy_request_duration_seconds", "route"),
                ),
                ts(
                    "Proxy upstream errors by route",
                    "Errors from MLflow on proxied requests, per route.",
                    "reqps",
                    rate_by("maestro_mlflow_proxy_upstream_errors_total", "route"),
                ),
            ),
        ),
    ),
)
