"""Every Prometheus metric the API exports (docs/interfaces.md is the contract; dashboards use these names).

All metrics live in ``REGISTRY`` so tests and ``/metrics`` see exactly the service's own series. Metrics are
per process: with several workers, scrape each process (one per pod on Kubernetes, one per service on hosts).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "maestro_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "maestro_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "maestro_auth_failures_total", "Failed authentications by reason.", ["reason"], registry=REGISTRY
)
AUTHZ_DENIALS = Counter(
    "maestro_authz_denials_total", "Authorization denials by permission.", ["permission"], registry=REGISTRY
)
RATE_LIMIT_REJECTIONS = Counter(
    "maestro_rate_limit_rejections_total",
    "Requests refused with 429 by tier and scope (key, tenant).",
    ["tier", "scope"],
    registry=REGISTRY,
)
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "maestro_rate_limit_backend_errors_total",
    "Rate-limit checks that could not reach Redis (handled by MAESTRO_RATE_LIMIT_FAILURE_MODE).",
    registry=REGISTRY,
)
DB_POOL_CONNECTIONS = Gauge(
    "maestro_db_pool_connections", "Database pool connections by state (in_use, idle).", ["state"], registry=REGISTRY
)
DB_POOL_SIZE = Gauge("maestro_db_pool_size", "Configured database pool size.", registry=REGISTRY)
READINESS_CHECK = Gauge(
    "maestro_readiness_check",
    "Outcome of each readiness check at the last /readyz (1 ok, 0 failed); /readyz itself answers only a status.",
    ["check"],
    registry=REGISTRY,
)
AUDIT_EVENTS = Counter("maestro_audit_events_total", "Audit events written by outcome.", ["outcome"], registry=REGISTRY)
AUDIT_WRITE_FAILURES = Counter(
    "maestro_audit_write_failures_total", "Audit events that could not be written.", registry=REGISTRY
)
REGISTRY_CACHE_REQUESTS = Counter(
    "maestro_registry_cache_requests_total",
    "Registry cache lookups by result (hit, miss).",
    ["result"],
    registry=REGISTRY,
)
MLFLOW_REQUEST_DURATION = Histogram(
    "maestro_mlflow_request_duration_seconds",
    "Latency of requests to MLflow by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MLFLOW_ERRORS = Counter(
    "maestro_mlflow_errors_total",
    "Failed MLflow requests by kind (timeout, unavailable, bad_request, unauthorized, upstream_5xx).",
    ["kind"],
    registry=REGISTRY,
)
DEPLOYMENT_ROUTE = Counter(
    "maestro_deployment_route_total",
    "A/B routing decisions by tenant, deployment and variant.",
    ["tenant", "deployment", "variant"],
    registry=REGISTRY,
)
MLFLOW_PROXY_REQUEST_DURATION = Histogram(
    "maestro_mlflow_proxy_request_duration_seconds",
    "Latency of the stock-MLflow-client proxy by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MLFLOW_PROXY_UPSTREAM_ERRORS = Counter(
    "maestro_mlflow_proxy_upstream_errors_total",
    "Upstream errors of the MLflow proxy by route.",
    ["route"],
    registry=REGISTRY,
)
