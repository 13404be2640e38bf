"""Alerts on the Maestro API itself (RED metrics, auth, rate limits, DB pool, audit, cache)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import API, runbook
from dashboards.alerts.shapes import counter, quantile, ratio, state
from dashboards.model import Alert, Condition, RuleGroup

GRAFANA_API = "the Grafana dashboard 'Maestro / API'"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "ApiDown",
        state(API, "up", "== 0"),
        "2m",
        "critical",
        "Prometheus cannot scrape a Maestro API instance.",
        "Prometheus cannot scrape the Maestro API at {{ $labels.instance }} on host {{ $labels.instance_name }}.",
        runbook(
            "An API instance does not answer /metrics. If every instance is down, tenants cannot reach MLflow "
            "through Maestro at all; if one is, the others carry its load.",
            [
                "`curl -sf http://<instance>/healthz` from the Prometheus host.",
                "Hosts: `systemctl status maestro-api`; Kubernetes: `kubectl get pods -l app=maestro-api`.",
            ],
            [
                "Read the service log (`journalctl -u maestro-api -n 200` or `kubectl logs`) for the crash cause.",
                "A failed migration or a missing secret stops the start: fix the setting named in the error.",
                "Restart the service (`systemctl restart maestro-api` or delete the pod).",
            ],
            ['`up{job="maestro-api"}` is 1 for the instance and the alert resolves.'],
        ),
    ),
    Alert(
        "ApiRouteHighErrorRate",
        Condition(
            ratio(
                "job, route",
                f'rate(maestro_http_requests_total{{{API.match}, status=~"5.."}}[5m])',
                f"rate(maestro_http_requests_total{{{API.match}}}[5m])",
                f"> {c.API_ROUTE_ERROR_RATIO}",
            ),
            series={
                API.series("maestro_http_requests_total", method="GET", route="/v1/models", status="200"): "0+90x30",
                API.series("maestro_http_requests_total", method="GET", route="/v1/models", status="500"): "0+10x30",
            },
            labels={"job": "maestro-api", "route": "/v1/models"},
            onset="1m",
        ),
        "10m",
        "warning",
        "One API route answers with too many 5xx responses.",
        "Route {{ $labels.route }} answers {{ $value | humanizePercentage }} of requests with 5xx "
        "over the last 5 minutes.",
        runbook(
            "One route fails for a noticeable share of requests while the SLO alerts may still be quiet "
            "(the route may carry little traffic).",
            [
                f"Open {GRAFANA_API}, panel 'Error ratio per route'.",
                "Search the API log for the route and status 5xx to find the exception.",
            ],
            [
                "An upstream (MLflow, Postgres, Redis) failing shows in its own alert: fix that first.",
                "A bug in a new release: roll back to the previous image or package.",
            ],
            ["The panel's ratio for the route falls below 5% and the alert resolves."],
        ),
        "10%",
    ),
    Alert(
        "ApiRouteHighLatency",
        quantile(
            API,
            "maestro_http_request_duration_seconds",
            "route",
            c.API_ROUTE_P99_SECONDS,
            buckets={"1": "0+50x30", "2.5": "0+100x30", "+Inf": "0+100x30"},
            labels={"method": "GET", "route": "/v1/runs"},
        ),
        "15m",
        "warning",
        "The P99 latency of one API route is too high.",
        "P99 latency of route {{ $labels.route }} is {{ $value | humanizeDuration }} over the last 5 minutes.",
        runbook(
            "Requests on one route are slow for the slowest percent of callers; clients may time out.",
            [
                f"Open {GRAFANA_API}, panel 'P99 latency per route'.",
                "Compare with 'MLflow call latency' and the Postgres dashboard: most latency is upstream.",
            ],
            [
                "Slow MLflow: see MlflowHighLatency. Slow Postgres: look for long transactions and locks.",
                "A cold registry cache after a restart recovers by itself within minutes.",
                "Scale out the API (HPA on Kubernetes, more hosts in the inventory) if CPU is saturated.",
            ],
            ["The route's P99 on the panel stays under 1 s for 15 minutes."],
        ),
        "2.47s",
    ),
    Alert(
        "ApiAuthFailureSpike",
        counter(
            API,
            "maestro_auth_failures_total",
            "5m",
            f"> {c.API_AUTH_FAILURES_PER_SECOND}",
            fn="rate",
            by=("job",),
            labels={"reason": "invalid_key"},
            values="0+600x30",
            onset="3m",
        ),
        "10m",
        "warning",
        "The API rejects an unusual number of authentication attempts.",
        "Job {{ $labels.job }} rejects {{ $value | humanize }} authentication attempts per second "
        "over the last 5 minutes.",
        runbook(
            "Many requests carry invalid API keys or tokens: credential stuffing, a leaked and revoked key still "
            "in use, or an OIDC issuer/JWKS problem that makes valid tokens fail.",
            [
                f"Open {GRAFANA_API}, panel 'Auth failures by reason'.",
                "`reason` tells which: unknown/revoked keys point at clients, signature/issuer errors at OIDC.",
            ],
            [
                "OIDC: check MAESTRO_OIDC_JWKS_URL is reachable and the issuer rotated keys recently.",
                "Attack: tighten the WAF or block the source addresses at the edge; rate limits cap the damage.",
                "A tenant's broken client: contact the tenant named in the audit log.",
            ],
            ["The failure rate on the panel returns to its usual level."],
        ),
        "10",
    ),
    Alert(
        "ApiRateLimitBackendErrors",
        counter(API, "maestro_rate_limit_backend_errors_total", "5m", "> 0", fn="rate", by=("job",), values="0+60x20"),
        "5m",
        "warning",
        "The API cannot reach its rate-limit store.",
        "Job {{ $labels.job }} fails {{ $value | humanize }} rate-limit checks per second against Redis.",
        runbook(
            "The rate limiter cannot talk to Redis. With MAESTRO_RATE_LIMIT_FAILURE_MODE=open requests pass "
            "unlimited; with closed they are refused. Either way, limits are not enforced as configured.",
            [
                "Check the Redis alerts and the Redis dashboard; `redis-cli -h <host> --tls ping` from an API host.",
            ],
            ["Fix Redis (see RedisDown), or the API's MAESTRO_REDIS_URL / credentials if Redis is healthy."],
            ["`rate(maestro_rate_limit_backend_errors_total[5m])` is 0 again."],
        ),
        "1",
    ),
    Alert(
        "ApiDbPoolSaturated",
        Condition(
            ratio(
                "job, instance, instance_name",
                f'maestro_db_pool_connections{{{API.match}, state="in_use"}}',
                f"maestro_db_pool_size{{{API.match}}}",
                f"> {c.API_DB_POOL_SATURATION}",
            ),
            series={
                API.series("maestro_db_pool_connections", state="in_use"): "19x20",
                API.series("maestro_db_pool_connections", state="idle"): "1x20",
                API.series("maestro_db_pool_size"): "20x20",
            },
            labels=API.labels,
        ),
        "10m",
        "warning",
        "An API instance has used up its database connection pool.",
        "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its database pool.",
        runbook(
            "Requests wait for a database connection; latency climbs and requests time out.",
            [f"Open {GRAFANA_API}, panel 'DB pool'; look for long transactions in pg_stat_activity."],
            [
                "Long-running or stuck queries: find them in pg_stat_activity and cancel them.",
                "Sustained load: add API instances rather than raising the pool past Postgres' max_connections.",
            ],
            ["The in-use share falls below 90% on the panel."],
        ),
        "95%",
    ),
    Alert(
        "ApiAuditWriteFailures",
        counter(API, "maestro_audit_write_failures_total", "5m", "> 0", by=("job",), values="0+1x20"),
        "1m",
        "critical",
        "The API fails to write audit events.",
        "Job {{ $labels.job }} failed to write {{ $value | humanize }} audit events over the last 5 minutes.",
        runbook(
            "Audit events are lost or actions are refused because they cannot be audited; either breaks the "
            "audit trail that tenants and compliance rely on.",
            ["Search the API log for 'audit' errors; check Postgres is writable (PatroniNoLeader)."],
            [
                "Restore database writes (leader, disk space, permissions of the service role on the audit table).",
                "Afterwards run `maestro-api audit verify` for every tenant.",
            ],
            ["`maestro-api audit verify` exits 0 and the failure counter stops growing."],
        ),
        "2",
    ),
    Alert(
        "ApiRegistryCacheHitRateLow",
        Condition(
            ratio(
                "job",
                f'rate(maestro_registry_cache_requests_total{{{API.match}, result="hit"}}[15m])',
                f"rate(maestro_registry_cache_requests_total{{{API.match}}}[15m])",
                f"< {c.API_CACHE_HIT_RATIO_MIN}",
            ),
            series={
                API.series("maestro_registry_cache_requests_total", result="hit"): "0+20x40",
                API.series("maestro_registry_cache_requests_total", result="miss"): "0+80x40",
            },
            labels={"job": "maestro-api"},
            onset="1m",
        ),
        "30m",
        "info",
        "The API's model registry cache rarely hits.",
        "The registry cache hit ratio of {{ $labels.job }} is {{ $value | humanizePercentage }} "
        "over the last 15 minutes.",
        runbook(
            "Most registry reads go through to MLflow, which serves only a few hundred requests per second; "
            "latency and MLflow load rise.",
            [f"Open {GRAFANA_API}, panel 'Registry cache hit ratio'."],
            [
                "Redis evictions (RedisMemoryNearLimit) empty the cache: give Redis more memory.",
                "A client that reads many distinct models once each cannot be cached: no action.",
            ],
            ["The hit ratio rises above 50%."],
        ),
        "20%",
    ),
)

GROUP = RuleGroup(name="maestro-api", file="api", area="API", alerts=ALERTS)
