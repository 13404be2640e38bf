"""Postgres / Patroni: leader, timeline, replication lag, connections, transactions, WAL archiving, HAProxy."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import SEL, Board, Query, single, ts

R = "[$__rate_interval]"

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
                    Query(f"sum by (scope) (patroni_primary{{{SEL}}})", "{{scope}}"),
                ),
                single(
                    "Timeline",
                    "Current Postgres timeline; it increases with every failover or switchover.",
                    "none",
                    Query(f"max by (scope) (patroni_postgres_timeline{{{SEL}}})", "{{scope}}"),
                ),
                single(
                    "Postgres running",
                    "Members whose Postgres runs, per cluster.",
                    "short",
                    Query(f"sum by (scope) (patroni_postgres_running{{{SEL}}})", "{{scope}}"),
                ),
                single(
                    "etcd has leader",
                    "etcd members that see a leader (the DCS Patroni depends on).",
                    "short",
                    Query(f"sum(etcd_server_has_leader{{{SEL}}})"),
                ),
                ts(
                    "Replication lag",
                    "Bytes of WAL each replica still has to replay, from Patroni's xlog positions.",
                    "bytes",
                    Query(
                        f"max by (scope) (patroni_xlog_location{{{SEL}}})\n"
                        "  - on (scope) group_right ()\n"
                        f"  (patroni_xlog_replayed_location{{{SEL}}}\n"
                        f"   and on (instance) (patroni_replica{{{SEL}}} == 1))",
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
                    Query(
                        f"sum by (instance_name, state) (pg_stat_activity_count{{{SEL}}})",
                        "{{instance_name}} {{state}}",
                    ),
                    Query(f"max by (instance_name) (pg_settings_max_connections{{{SEL}}})", "{{instance_name}} max"),
                ),
                ts(
                    "Transactions",
                    "Commits and rollbacks per second, per host.",
                    "ops",
                    Query(
                        f"sum by (instance_name) (rate(pg_stat_database_xact_commit{{{SEL}}}{R}))",
                        "{{instance_name}} commit",
                    ),
                    Query(
                        f"sum by (instance_name) (rate(pg_stat_database_xact_rollback{{{SEL}}}{R}))",
                        "{{instance_name}} rollback",
                    ),
                ),
                ts(
                    "Deadlocks",
                    "Deadlocks detected per second, per host.",
                    "ops",
                    Query(
                        f"sum by (instance_name) (rate(pg_stat_database_deadlocks{{{SEL}}}{R}))", "{{instance_name}}"
                    ),
                ),
                ts(
                    "Database size",
                    "On-disk size of each database.",
                    "bytes",
                    Query(f"max by (datname) (pg_database_size_bytes{{{SEL}}})", "{{datname}}"),
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
                    Query(
                        f"sum by (instance_name) (rate(pg_stat_archiver_archived_count{{{SEL}}}{R}))",
                        "{{instance_name}} archived",
                    ),
                    Query(
                        f"sum by (instance_name) (rate(pg_stat_archiver_failed_count{{{SEL}}}{R}))",
                        "{{instance_name}} failed",
                    ),
                ),
                ts(
                    "Last archive age",
                    "Seconds since the last WAL segment was archived, per host (pg_stat_archiver).",
                    "s",
                    Query(f"max by (instance_name) (pg_stat_archiver_last_archive_age{{{SEL}}})", "{{instance_name}}"),
                ),
                ts(
                    "HAProxy active servers",
                    f"Servers passing Patroni's health check per backend; {c.HAPROXY_PRIMARY_BACKEND} must be 1.",
                    "short",
                    Query(f"max by (proxy) (haproxy_backend_active_servers{{{SEL}}})", "{{proxy}}"),
                ),
                ts(
                    "HAProxy sessions",
                    "Current sessions per frontend (clients connected through HAProxy).",
                    "short",
                    Query(f"sum by (proxy) (haproxy_frontend_current_sessions{{{SEL}}})", "{{proxy}}"),
                ),
            ),
        ),
    ),
)
