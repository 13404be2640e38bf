"""Every tunable of the dashboards and rules, in one place; queries and thresholds are built from these.

Job names are a contract with whoever writes the scrape configuration (the Ansible `monitoring` role and the
Pulumi ServiceMonitors): on the hosts path each target also carries `instance_name` (the machine's inventory
name, set in the role's static_configs), which the host-down inhibition in alertmanager.yml matches on and
which alerts keep when they aggregate per machine. tests/dashboards/test_wiring.py checks the role agrees.
"""

from __future__ import annotations

from typing import Final

# The one pattern every alert's runbook_url is made from; {alertname} is the alert's name. Operators who host
# the repository elsewhere change this line only.
RUNBOOK_URL_PATTERN: Final = "https://github.com/maestro-platform/maestro/blob/main/runbooks/alerts/{alertname}.md"

# Scrape job names, as label matchers. The first name is the hosts path's job (Ansible monitoring role); the
# alternatives are what kube-prometheus-stack and our ServiceMonitors produce on Kubernetes (job = Service name).
JOBS: Final[dict[str, str]] = {
    "api": 'job=~"maestro-api"',
    "node": 'job=~"node|node-exporter"',
    "postgres": 'job=~"postgres|postgres-exporter"',
    "patroni": 'job=~"patroni"',
    "etcd": 'job=~"etcd"',
    "haproxy": 'job=~"haproxy"',
    "redis": 'job=~"redis|redis-exporter"',
    "prometheus": 'job=~"prometheus|kube-prometheus-stack-prometheus"',
    "alertmanager": 'job=~"alertmanager|kube-prometheus-stack-alertmanager"',
}

# The exporters' and servers' versions the alerts and dashboards are checked against, on the hosts path: Debian 12's
# and Debian 13's packages (tests/dashboards/fixtures/exporter_metrics.yml lists the names both export, and only
# those may be queried). docs/alerts.md states them.
COVERED_VERSIONS: Final[dict[str, tuple[str, str]]] = {
    "node_exporter": ("1.5.0", "1.9.0"),
    "postgres_exporter": ("0.11.1", "0.17.1"),
    "redis_exporter": ("1.45.0", "1.69.0"),
    "Patroni": ("3.0.2", "4.0.7"),
    "etcd": ("3.4.23", "3.5.16"),
    "HAProxy": ("2.6.12", "3.0.11"),
    "Prometheus": ("2.42.0", "2.53.3"),
    "Alertmanager": ("0.25.0", "0.28.1"),
    "PostgreSQL": ("15", "17"),
    "Redis / Valkey": ("Redis 7.0.15", "Valkey 8.1.1"),
}

# HAProxy backend (proxy label) that must route to exactly one server, the Patroni leader.
HAPROXY_PRIMARY_BACKEND: Final = "postgres_primary"

# --- API SLOs (30-day window). ---
SLO_WINDOW_DAYS: Final = 30
# Share of non-5xx responses.
SLO_AVAILABILITY_TARGET: Final = 0.999
# Share of requests served within SLO_LATENCY_THRESHOLD_SECONDS.
SLO_LATENCY_TARGET: Final = 0.99
# Must be a bucket boundary of maestro_http_request_duration_seconds (docs/interfaces.md); a test checks it.
SLO_LATENCY_THRESHOLD_SECONDS: Final = 0.25
API_HISTOGRAM_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Routes that are not user traffic and are excluded from the SLIs.
SLO_EXCLUDED_ROUTES: Final = ("/healthz", "/readyz", "/metrics")
# Windows the SLI ratios are recorded over.
SLO_WINDOWS: Final = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# Multi-window multi-burn-rate alerts (Google SRE workbook, ch. 5): (suffix, burn rate, long, short, for, severity).
# 14.4x over 1h spends 2% of a 30-day budget; 6x over 6h spends 5%; 1x over 3d spends 10%.
BURN_RATE_ALERTS: Final = (
    ("FastBurn", 14.4, "1h", "5m", "2m", "critical"),
    ("SustainedBurn", 6.0, "6h", "30m", "15m", "critical"),
    ("SlowBurn", 1.0, "3d", "6h", "1h", "warning"),
)

# --- API thresholds. ---
API_ROUTE_ERROR_RATIO: Final = 0.05  # 5xx share on one route over 5m
API_ROUTE_P99_SECONDS: Final = 1.0  # P99 latency of one route over 5m
API_AUTH_FAILURES_PER_SECOND: Final = 5.0  # failed authentications, all reasons, over 5m
API_DB_POOL_SATURATION: Final = 0.9  # in-use share of the SQLAlchemy pool
API_CACHE_HIT_RATIO_MIN: Final = 0.5  # registry cache; below this MLflow takes the read load

# --- MLflow, seen from the API. ---
MLFLOW_P99_SECONDS: Final = 2.0
MLFLOW_ERRORS_PER_SECOND: Final = 0.1

# --- Postgres / Patroni. ---
PG_CONNECTIONS_RATIO: Final = 0.8
PG_REPLICATION_LAG_BYTES: Final = 64 * 1024 * 1024

# --- Redis. ---
REDIS_MEMORY_RATIO: Final = 0.9
REDIS_CLIENTS_RATIO: Final = 0.8

# --- etcd. ---
ETCD_FSYNC_P99_SECONDS: Final = 0.5
ETCD_LEADER_CHANGES_PER_HOUR: Final = 4

# --- Backups and DR (seconds). ---
BACKUP_FULL_MAX_AGE_SECONDS: Final = 8 * 86400  # weekly fulls plus a day of slack
WAL_ARCHIVE_MAX_AGE_SECONDS: Final = 15 * 60  # archive_timeout is 60 s; 15 min means archiving is stuck
RESTORE_DRILL_MAX_AGE_SECONDS: Final = 35 * 86400  # monthly drills plus slack
RESTORE_DRILL_RTO_SECONDS: Final = 3600
RESTORE_DRILL_RPO_SECONDS: Final = 300

# --- WAF (textfile metrics written by the WAF log tailer on the nginx hosts). ---
WAF_BLOCK_RATIO: Final = 0.05
WAF_METRICS_MAX_AGE_SECONDS: Final = 300

# --- Hosts. ---
HOST_FS_FREE_RATIO: Final = 0.1
HOST_MEMORY_AVAILABLE_RATIO: Final = 0.1
HOST_CLOCK_SKEW_SECONDS: Final = 0.05
HOST_FS_EXCLUDED_TYPES: Final = "tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs"


def job(name: str) -> str:
    """The label matcher of a scrape job, e.g. job("api") -> 'job=~"maestro-api"'; an unknown name fails early."""
    try:
        return JOBS[name]
    except KeyError:
        raise KeyError(f"unknown scrape job {name!r}; known: {sorted(JOBS)}") from None


def job_regex(*names: str) -> str:
    """The job-name regex of one or more scrape jobs, for dashboard variables: job_regex("redis") -> "redis|..."."""
    return "|".join(job(n).split('"')[1] for n in names)
