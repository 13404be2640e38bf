"""Postgres / Patroni: leader, timeline, replication lag, connections, transactions, WAL archiving, HAProxy."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import Board, Query, gauge, rate_by, selected, single, ts

BOARD = Board(
    uid="maestro-postgres",
    title="Maestro / Postgres and Patroni",
    description="The Patroni cluster: who leads, timeline, replication lag, connections, transactions, WAL "
    "archiving and HAProxy routing.",
    job_regex=c.job_regex("patroni", "postgres", "haproxy", "etcd"),
    rows=(
        (
            "Cluster",
            (
                single(
                    "Leader",
                    "Members reporting the primary role per cluster; exactly 1 is healthy.",
                    "short",
                    gauge("sum", "patroni_primary", "scope"),
                ),
                single(
                    "Timeline",
                    "Current Postgres timeline; it increases with every failover or switchover.",
                    "none",
                    gauge("max", "patroni_postgres_timeline", "scope"),
                ),
                single(
                    "Postgres running",
                    "Members whose Postgres runs, per cluster.",
                    "short",
                    gauge("sum", "patroni_postgres_running", "scope"),
                ),
                single(
                    "etcd has leader",
                    "etcd members that see a leader (the DCS Patroni depends on).",
                    "short",
                    gauge("sum", "etcd_server_has_leader", ""),
                ),
                ts(
                    "Replication lag",
                    "Bytes of WAL each replica still has to replay, from Patroni's xlog positions.",
                    "bytes",
                    Query(
                        f"max by (scope) ({selected('patroni_xlog_location')})\n"
                        "  - on (scope) group_right ()\n"
                        f"  ({selected('patroni_xlog_replayed_location')}\n"
                        f"   and on (instance) ({selected('patroni_replica')} == 1))",
                        "{{instance}}",
                    ),
                    width=24,
                ),
            ),
        ),
        (
            "Workload",
            (
                ts(
                    "Connections",
                    "Backends by state per host, against max_connections.",
                    "short",
                    gauge("sum", "pg_stat_activity_count", "instance_name, state"),
                    gauge("max", "pg_settings_max_connections", "instance_name", "{{instance_name}} max"),
                ),
                ts(
                    "Transactions",
                    "Commits and rollbacks per second, per host.",
                    "ops",
                    rate_by("pg_stat_database_xact_commit", "instance_name", "{{instance_name}} commit"),
                    rate_by("pg_stat_database_xact_rollback", "instance_name", "{{instance_name}} rollback"),
                ),
                ts(
                    "Deadlocks",
                    "Deadlocks detected per second, per host.",
                    "ops",
                    rate_by("pg_stat_database_deadlocks", "instance_name"),
                ),
                ts(
                    "Database size",
                    "On-disk size of each database.",
                    "bytes",
                    gauge("max", "pg_database_size_bytes", "datname"),
                ),
            ),
        ),
        (
            "WAL archiving and routing",
            (
                ts(
                    "WAL archived / failed",
                    "archive_command successes and failures per second (pg_stat_archiver).",
                    "ops",
                    rate_by("pg_stat_archiver_archived_count", "instance_name", "{{instance_name}} archived"),
                    rate_by("pg_stat_archiver_failed_count", "instance_name", "{{instance_name}} failed"),
                ),
                ts(
                    "Last archive age",
                    "Seconds since the last WAL segment was archived, per host (pg_stat_archiver).",
                    "s",
                    gauge("max", "pg_stat_archiver_last_archive_age", "instance_name"),
                ),
                ts(
                    "HAProxy active servers",
                    f"Servers passing Patroni's health check per backend; {c.HAPROXY_PRIMARY_BACKEND} must be 1.",
                    "short",
                    gauge("max", "haproxy_backend_active_servers", "proxy"),
                ),
                ts(
                    "HAProxy sessions",
                    "Current sessions per frontend (clients connected through HAProxy).",
                    "short",
                    gauge("sum", "haproxy_frontend_current_sessions", "proxy"),
                ),
            ),
        ),
    ),
)
