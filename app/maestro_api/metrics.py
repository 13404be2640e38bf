"""Every Prometheus metric the API exports (docs/interfaces.md is the contract; dashboards use these names).

All metrics live in ``REGISTRY`` so tests and ``/metrics`` see exactly the service's own series. Metrics are
per process: with several workers, scrape each process (one per pod on Kubernetes, one per service on hosts).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _counter(name: str, documentation: str, *labels: str) -> Counter:
    return Counter(name, documentation, labels, registry=REGISTRY)


def _gauge(name: str, documentation: str, *labels: str) -> Gauge:
    return Gauge(name, documentation, labels, registry=REGISTRY)


def _latency(name: str, documentation: str, *labels: str) -> Histogram:
    """A latency histogram in seconds, on the buckets every latency shares (the SLO threshold is one of them)."""
    return Histogram(name, documentation, labels, buckets=LATENCY_BUCKETS, registry=REGISTRY)


HTTP_REQUESTS = _counter(
    "maestro_http_requests_total", "HTTP requests by method, route template and status.", "method", "route", "status"
)
HTTP_REQUEST_DURATION = _latency(
    "maestro_http_request_duration_seconds", "HTTP request latency by method and route template.", "method", "route"
)
AUTH_FAILURES = _counter("maestro_auth_failures_total", "Failed authentications by reason.", "reason")
AUTHZ_DENIALS = _counter("maestro_authz_denials_total", "Authorization denials by permission.", "permission")
RATE_LIMIT_REJECTIONS = _counter(
    "maestro_rate_limit_rejections_total", "Requests refused with 429 by tier and scope (key, tenant).", "tier", "scope"
)
RATE_LIMIT_BACKEND_ERRORS = _counter(
    "maestro_rate_limit_backend_errors_total",
    "Rate-limit checks that could not reach Redis (handled by MAESTRO_RATE_LIMIT_FAILURE_MODE).",
)
DB_POOL_CONNECTIONS = _gauge(
    "maestro_db_pool_connections", "Database pool connections by state (in_use, idle).", "state"
)
DB_POOL_SIZE = _gauge("maestro_db_pool_size", "Configured database pool size.")
READINESS_CHECK = _gauge(
    "maestro_readiness_check",
    "Outcome of each readiness check at the last /readyz (1 ok, 0 failed); /readyz itself answers only a status.",
    "check",
)
AUDIT_EVENTS = _counter("maestro_audit_events_total", "Audit events written by outcome.", "outcome")
AUDIT_WRITE_FAILURES = _counter("maestro_audit_write_failures_total", "Audit events that could not be written.")
REGISTRY_CACHE_REQUESTS = _counter(
    "maestro_registry_cache_requests_total", "Registry cache lookups by result (hit, miss).", "result"
)
MLFLOW_REQUEST_DURATION = _latency(
    "maestro_mlflow_request_duration_seconds", "Latency of requests to MLflow by operation.", "operation"
)
MLFLOW_ERRORS = _counter(
    "maestro_mlflow_errors_total",
    "Failed MLflow requests by kind (timeout, unavailable, bad_request, unauthorized, upstream_5xx).",
    "kind",
)
DEPLOYMENT_ROUTE = _counter(
    "maestro_deployment_route_total",
    "A/B routing decisions by tenant, deployment and variant.",
    "tenant",
    "deployment",
    "variant",
)
MLFLOW_PROXY_REQUEST_DURATION = _latency(
    "maestro_mlflow_proxy_request_duration_seconds", "Latency of the stock-MLflow-client proxy by route.", "route"
)
MLFLOW_PROXY_UPSTREAM_ERRORS = _counter(
    "maestro_mlflow_proxy_upstream_errors_total", "Upstream errors of the MLflow proxy by route.", "route"
)
