"""Alerts on Redis, the API's cache and rate-limit store (redis_exporter)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, RuleGroup

REDIS = Target("redis", "redis1:9121", "redis1")
CLI = "`redis-cli -h <host> --tls --askpass INFO` (use the AUTH password from the secret store)"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "RedisDown",
        state(REDIS, "redis_up", "== 0"),
        "1m",
        "critical",
        "redis_exporter cannot reach its Redis.",
        "Redis behind exporter {{ $labels.instance }} on {{ $labels.instance_name }} is down.",
        runbook(
            "Redis is down: the API's cache misses every time and rate limiting fails open or closed "
            "(MAESTRO_RATE_LIMIT_FAILURE_MODE).",
            [CLI, "`systemctl status redis-server`; Sentinel: `redis-cli -p 26379 SENTINEL masters`."],
            ["Restart Redis; with Sentinel, check a replica was promoted and the API follows the new master."],
            ["`redis_up` is 1; ApiRateLimitBackendErrors resolves."],
        ),
    ),
    Alert(
        "RedisMemoryNearLimit",
        on_target(
            REDIS,
            f"redis_memory_used_bytes{{{REDIS.match}}} / (redis_memory_max_bytes{{{REDIS.match}}} > 0)\n"
            f"  > {c.REDIS_MEMORY_RATIO}",
            {"redis_memory_used_bytes": "950x20", "redis_memory_max_bytes": "1000x20"},
        ),
        "10m",
        "warning",
        "Redis is close to its maxmemory.",
        "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory.",
        runbook(
            "Redis will evict keys (cache entries and, worse, rate-limit windows) or refuse writes.",
            [CLI + " (used_memory, maxmemory, evicted_keys)."],
            ["Raise maxmemory (Ansible redis role variable or the managed cache's size)."],
            ["The ratio falls below 90% on the Redis dashboard."],
        ),
        "95%",
    ),
    Alert(
        "RedisTooManyClients",
        on_target(
            REDIS,
            f"redis_connected_clients{{{REDIS.match}}} / redis_config_maxclients{{{REDIS.match}}}"
            f" > {c.REDIS_CLIENTS_RATIO}",
            {"redis_connected_clients": "9000x20", "redis_config_maxclients": "10000x20"},
        ),
        "5m",
        "warning",
        "Redis is close to maxclients.",
        "Redis {{ $labels.instance }} has {{ $value | humanizePercentage }} of maxclients connected.",
        runbook(
            "New connections will be refused; API instances fail their cache and rate-limit calls.",
            [CLI + " (connected_clients); `CLIENT LIST` to see who holds them."],
            ["Find the client leaking connections; raise maxclients if the load is real."],
            ["The ratio falls below 80%."],
        ),
        "90%",
    ),
    Alert(
        "RedisRejectedConnections",
        counter(REDIS, "redis_rejected_connections_total", "5m", "> 0", values="0+2x20"),
        "5m",
        "warning",
        "Redis refuses client connections.",
        "Redis {{ $labels.instance }} rejected {{ $value | humanize }} connections in 5 minutes.",
        runbook(
            "Redis refused connections because maxclients was reached.",
            [CLI + " (rejected_connections)."],
            ["See RedisTooManyClients."],
            ["`increase(redis_rejected_connections_total[5m])` is 0."],
        ),
        "10",
    ),
    Alert(
        "RedisReplicaLinkDown",
        state(REDIS, "redis_master_link_up", "== 0"),
        "2m",
        "warning",
        "A Redis replica lost its link to the master.",
        "Redis replica {{ $labels.instance }} is disconnected from its master.",
        runbook(
            "The replica no longer follows the master; Sentinel cannot fail over to it without data loss.",
            [CLI + " (master_link_status, master_host)."],
            ["Check the network and AUTH/TLS settings between the hosts; `REPLICAOF` the current master."],
            ["`redis_master_link_up` is 1."],
        ),
    ),
)

GROUP = RuleGroup(name="maestro-redis", file="redis", area="Redis", alerts=ALERTS)
