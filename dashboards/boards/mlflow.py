"""MLflow, seen from the API (its calls and the client proxy) plus its hosts."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import SEL, Board, Query, ts

R = "[$__rate_interval]"

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
                    Query(
                        f"sum by (operation) (rate(maestro_mlflow_request_duration_seconds_count{{{SEL}}}{R}))",
                        "{{operation}}",
                    ),
                ),
                ts(
                    "MLflow call latency by operation",
                    "P99 duration of the API's calls to MLflow, per operation.",
                    "s",
                    Query(
                        "histogram_quantile(0.99, sum by (operation, le) "
                        f"(rate(maestro_mlflow_request_duration_seconds_bucket{{{SEL}}}{R})))",
                        "{{operation}}",
                    ),
                ),
                ts(
                    "MLflow errors by kind",
                    "Failed MLflow calls per second: timeout, unavailable, bad_request, upstream_5xx.",
                    "reqps",
                    Query(f"sum by (kind) (rate(maestro_mlflow_errors_total{{{SEL}}}{R}))", "{{kind}}"),
                ),
                ts(
                    "Registry cache hit ratio",
                    "Share of registry reads answered without MLflow.",
                    "percentunit",
                    Query(
                        f'sum(rate(maestro_registry_cache_requests_total{{{SEL}, result="hit"}}{R}))\n'
                        f"  / sum(rate(maestro_registry_cache_requests_total{{{SEL}}}{R}))",
                        "hit ratio",
                    ),
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
                    Query(
                        "histogram_quantile(0.99, sum by (route, le) "
                        f"(rate(maestro_mlflow_proxy_request_duration_seconds_bucket{{{SEL}}}{R})))",
                        "{{route}}",
                    ),
                ),
                ts(
                    "Proxy upstream errors by route",
                    "Errors from MLflow on proxied requests, per route.",
                    "reqps",
                    Query(
                        f"sum by (route) (rate(maestro_mlflow_proxy_upstream_errors_total{{{SEL}}}{R}))", "{{route}}"
                    ),
                ),
            ),
        ),
    ),
)
