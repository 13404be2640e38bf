"""Redis: the API's cache and rate-limit store."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import SEL, Board, Query, single, ts

R = "[$__rate_interval]"

BOARD = Board(
    uid="maestro-redis",
    title="Maestro / Redis",
    description="Redis as the API's cache and rate-limit store: availability, memory, clients, hit ratio.",
    job_regex=c.job_regex("redis"),
    rows=(
        (
            "Redis",
            (
                single(
                    "Up", "1 when the exporter reaches Redis.", "short", Query(f"redis_up{{{SEL}}}", "{{instance}}")
                ),
                single(
                    "Uptime",
                    "Seconds since Redis started; a reset means a restart (and an empty cache).",
                    "s",
                    Query(f"redis_uptime_in_seconds{{{SEL}}}", "{{instance}}"),
                ),
                ts(
                    "Memory used vs maxmemory",
                    "Memory Redis uses, against its maxmemory limit.",
                    "bytes",
                    Query(f"redis_memory_used_bytes{{{SEL}}}", "{{instance}} used"),
                    Query(f"redis_memory_max_bytes{{{SEL}}}", "{{instance}} max"),
                ),
                ts(
                    "Clients",
                    "Connected clients, against maxclients.",
                    "short",
                    Query(f"redis_connected_clients{{{SEL}}}", "{{instance}}"),
                    Query(f"redis_config_maxclients{{{SEL}}}", "{{instance}} max"),
                ),
                ts(
                    "Commands",
                    "Commands processed per second.",
                    "ops",
                    Query(f"rate(redis_commands_processed_total{{{SEL}}}{R})", "{{instance}}"),
                ),
                ts(
                    "Keyspace hit ratio",
                    "Share of key lookups that found the key.",
                    "percentunit",
                    Query(
                        f"rate(redis_keyspace_hits_total{{{SEL}}}{R})\n"
                        f"  / (rate(redis_keyspace_hits_total{{{SEL}}}{R})\n"
                        f"     + rate(redis_keyspace_misses_total{{{SEL}}}{R}))",
                        "{{instance}}",
                    ),
                ),
                ts(
                    "Evictions and rejections",
                    "Keys evicted for memory and connections rejected, per second.",
                    "ops",
                    Query(f"rate(redis_evicted_keys_total{{{SEL}}}{R})", "{{instance}} evicted"),
                    Query(f"rate(redis_rejected_connections_total{{{SEL}}}{R})", "{{instance}} rejected"),
                    width=24,
                ),
            ),
        ),
    ),
)
