"""Alerts on Redis, the API's cache and rate-limit store (redis_exporter)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, RuleGroup

REDIS = Target("redis", "redis1:9121", "redis1")
CLI = "`redis-cli -h <host> --tls --askpass INFO` (use the AUTH password from the secret store)"

ALERTS = (
    Alert(
        "RedisDown",
        state(REDIS, "redis_up", "== 0"),
        for_="1m",
        severity="critical",
        summary="redis_exporter cannot reach its Redis.",
        description="Redis behind exporter {{ $labels.instance }} on {{ $labels.instance_name }} is down.",
        runbook=runbook(
            "Redis is down: the API's cache misses every time and rate limiting fails open or closed "
            "(MAESTRO_RATE_LIMIT_FAILURE_MODE).",
            confirm=[CLI, "`systemctl status redis-server`; Sentinel: `redis-cli -p 26379 SENTINEL masters`."],
            fix=["Restart Redis; with Sentinel, check a replica was promoted and the API follows the new master."],
            verify=["`redis_up` is 1; ApiRateLimitBackendErrors resolves."],
        ),
        fired="Redis behind exporter redis1:9121 on redis1 is down.",
    ),
    Alert(
        "RedisMemoryNearLimit",
        on_target(
            REDIS,
            f"redis_memory_used_bytes{{{REDIS.match}}} / (redis_memory_max_bytes{{{REDIS.match}}} > 0)\n"
            f"  > {c.REDIS_MEMORY_RATIO}",
            {"redis_memory_used_bytes": "950x20", "redis_memory_max_bytes": "1000x20"},
        ),
        for_="10m",
        severity="warning",
        summary="Redis is close to its maxmemory.",
        description="Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory.",
        runbook=runbook(
            "Redis will evict keys (cache entries and, worse, rate-limit windows) or refuse writes.",
            confirm=[CLI + " (used_memory, maxmemory, evicted_keys)."],
            fix=["Raise maxmemory (Ansible redis role variable or the managed cache's size)."],
            verify=["The ratio falls below 90% on the Redis dashboard."],
        ),
        fired="Redis redis1:9121 uses 95% of maxmemory.",
    ),
    Alert(
        "RedisTooManyClients",
        on_target(
            REDIS,
            f"redis_connected_clients{{{REDIS.match}}} / redis_config_maxclients{{{REDIS.match}}}"
            f" > {c.REDIS_CLIENTS_RATIO}",
            {"redis_connected_clients": "9000x20", "redis_config_maxclients": "10000x20"},
        ),
        for_="5m",
        severity="warning",
        summary="Redis is close to maxclients.",
        description="Redis {{ $labels.instance }} has {{ $value | humanizePercentage }} of maxclients connected.",
        runbook=runbook(
            "New connections will be refused; API instances fail their cache and rate-limit calls.",
            confirm=[CLI + " (connected_clients); `CLIENT LIST` to see who holds them."],
            fix=["Find the client leaking connections; raise maxclients if the load is real."],
            verify=["The ratio falls below 80%."],
        ),
        fired="Redis redis1:9121 has 90% of maxclients connected.",
    ),
    Alert(
        "RedisRejectedConnections",
        counter(REDIS, "redis_rejected_connections_total", "5m", "> 0", values="0+2x20"),
        for_="5m",
        severity="warning",
        summary="Redis refuses client connections.",
        description="Redis {{ $labels.instance }} rejected {{ $value | humanize }} connections in 5 minutes.",
        runbook=runbook(
            "Redis refused connections because maxclients was reached.",
            confirm=[CLI + " (rejected_connections)."],
            fix=["See RedisTooManyClients."],
            verify=["`increase(redis_rejected_connections_total[5m])` is 0."],
        ),
        fired="Redis redis1:9121 rejected 10 connections in 5 minutes.",
    ),
    Alert(
        "RedisReplicaLinkDown",
        state(REDIS, "redis_master_link_up", "== 0"),
        for_="2m",
        severity="warning",
        summary="A Redis replica lost its link to the master.",
        description="Redis replica {{ $labels.instance }} is disconnected from its master.",
        runbook=runbook(
            "The replica no longer follows the master; Sentinel cannot fail over to it without data loss.",
            confirm=[CLI + " (master_link_status, master_host)."],
            fix=["Check the network and AUTH/TLS settings between the hosts; `REPLICAOF` the current master."],
            verify=["`redis_master_link_up` is 1."],
        ),
        fired="Redis replica redis1:9121 is disconnected from its master.",
    ),
)

GROUP = RuleGroup(name="maestro-redis", file="redis", area="Redis", alerts=ALERTS)
