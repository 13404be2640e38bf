"""The API: RED per route, rate limits, auth failures, cache, per-variant A/B traffic, DB pool."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import Board, Query, gauge, quantile, rate_by, share, single, ts

# Shown on the MLflow board too: the cache is what shields MLflow from registry reads.
REGISTRY_CACHE_HIT_RATIO = share("maestro_registry_cache_requests_total", 'result="hit"', legend="hit ratio")

BOARD = Board(
    uid="maestro-api",
    title="Maestro / API",
    description="The Maestro API: requests, errors and latency per route, auth, rate limits, cache and A/B traffic.",
    job_regex=c.job_regex("api"),
    rows=(
        (
            "SLO",
            (
                single(
                    "Availability (3d)",
                    f"Share of non-5xx responses over 3d; SLO {c.SLO_AVAILABILITY_TARGET:.1%}.",
                    "percentunit",
                    Query("1 - maestro:api_availability_errors:ratio_rate3d"),
                ),
                single(
                    "Latency within threshold (3d)",
                    f"Share of requests under {c.SLO_LATENCY_THRESHOLD_SECONDS} s over 3d; "
                    f"SLO {c.SLO_LATENCY_TARGET:.0%}.",
                    "percentunit",
                    Query("1 - maestro:api_latency_errors:ratio_rate3d"),
                ),
                ts(
                    "SLI error ratios",
                    "Recorded SLI error ratios over the 5m and 1h windows the fast-burn alert uses.",
                    "percentunit",
                    Query("maestro:api_availability_errors:ratio_rate5m", "5xx 5m"),
                    Query("maestro:api_availability_errors:ratio_rate1h", "5xx 1h"),
                    Query("maestro:api_latency_errors:ratio_rate5m", "slow 5m"),
                    Query("maestro:api_latency_errors:ratio_rate1h", "slow 1h"),
                ),
            ),
        ),
        (
            "Requests per route",
            (
                ts(
                    "Request rate per route",
                    "Requests per second by route template and method.",
                    "reqps",
                    rate_by("maestro_http_requests_total", "route, method", "{{method}} {{route}}"),
                ),
                ts(
                    "Error ratio per route",
                    "Share of 5xx responses per route.",
                    "percentunit",
                    share("maestro_http_requests_total", 'status=~"5.."', "route"),
                ),
                ts(
                    "P99 latency per route",
                    "99th percentile request duration per route, from the histogram.",
                    "s",
                    quantile(0.99, "maestro_http_request_duration_seconds", "route"),
                ),
                ts(
                    "P50 latency per route",
                    "Median request duration per route.",
                    "s",
                    quantile(0.5, "maestro_http_request_duration_seconds", "route"),
                ),
            ),
        ),
        (
            "Auth and rate limits",
            (
                ts(
                    "Auth failures by reason",
                    "Rejected authentications per second (bad key, expired token, ...).",
                    "reqps",
                    rate_by("maestro_auth_failures_total", "reason"),
                ),
                ts(
                    "Authorization denials by permission",
                    "Authenticated requests refused by RBAC, per missing permission.",
                    "reqps",
                    rate_by("maestro_authz_denials_total", "permission"),
                ),
                ts(
                    "Rate-limit rejections",
                    "Requests refused with 429, by tier and scope (key or tenant).",
                    "reqps",
                    rate_by("maestro_rate_limit_rejections_total", "tier, scope", "{{tier}} / {{scope}}"),
                ),
                ts(
                    "Rate-limit backend errors",
                    "Failed rate-limit checks against Redis (fail-open or fail-closed per settings).",
                    "reqps",
                    rate_by("maestro_rate_limit_backend_errors_total", legend="errors"),
                ),
            ),
        ),
        (
            "Cache, A/B traffic, database, audit",
            (
                ts(
                    "Registry cache hit ratio",
                    "Share of model registry reads served from the cache instead of MLflow.",
                    "percentunit",
                    REGISTRY_CACHE_HIT_RATIO,
                ),
                ts(
                    "Traffic per deployment variant",
                    "Requests routed to each variant of each deployment (A/B split as served).",
                    "reqps",
                    rate_by(
                        "maestro_deployment_route_total",
                        "tenant, deployment, variant",
                        "{{tenant}}/{{deployment}}/{{variant}}",
                    ),
                ),
                ts(
                    "DB pool",
                    "SQLAlchemy pool connections by state, against the pool size.",
                    "short",
                    gauge("sum", "maestro_db_pool_connections", "state"),
                    gauge("sum", "maestro_db_pool_size", "", "size"),
                ),
                ts(
                    "Audit events",
                    "Audit events written per second by outcome, and write failures.",
                    "ops",
                    rate_by("maestro_audit_events_total", "outcome"),
                    rate_by("maestro_audit_write_failures_total", legend="write failures"),
                ),
            ),
        ),
    ),
)
