"""Redis: the API's cache and rate-limit store."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import Board, Query, rate, selected, single, ts

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
                    "Up", "1 when the exporter reaches Redis.", "short", Query(selected("redis_up"), "{{instance}}")
                ),
                single(
                    "Uptime",
                    "Seconds since Redis started; a reset means a restart (and an empty cache).",
                    "s",
                    Query(selected("redis_uptime_in_seconds"), "{{instance}}"),
                ),
                ts(
                    "Memory used vs maxmemory",
                    "Memory Redis uses, against its maxmemory limit.",
                    "bytes",
                    Query(selected("redis_memory_used_bytes"), "{{instance}} used"),
                    Query(selected("redis_memory_max_bytes"), "{{instance}} max"),
                ),
                ts(
                    "Clients",
                    "Connected clients, against maxclients.",
                    "short",
                    Query(selected("redis_connected_clients"), "{{instance}}"),
                    Query(selected("redis_config_maxclients"), "{{instance}} max"),
                ),
                ts(
                    "Commands",
                    "Commands processed per second.",
                    "ops",
                    Query(rate("redis_commands_processed_total"), "{{instance}}"),
                ),
                ts(
                    "Keyspace hit ratio",
                    "Share of key lookups that found the key.",
                    "percentunit",
                    Query(
                        f"{rate('redis_keyspace_hits_total')}\n"
                        f"  / ({rate('redis_keyspace_hits_total')}\n"
                        f"     + {rate('redis_keyspace_misses_total')})",
                        "{{instance}}",
                    ),
                ),
                ts(
                    "Evictions and rejections",
                    "Keys evicted for memory and connections rejected, per second.",
                    "ops",
                    Query(rate("redis_evicted_keys_total"), "{{instance}} evicted"),
                    Query(rate("redis_rejected_connections_total"), "{{instance}} rejected"),
                    width=24,
                ),
            ),
        ),
    ),
)
