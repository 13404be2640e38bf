"""Alerts on PostgreSQL (postgres_exporter 0.11) and Patroni (its REST API's /metrics, 3.0+; label `scope`)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, Condition, RuleGroup

# Patroni cluster "maestro": db1 leads and db2 replicates in the scenarios.
PATRONI = Target("patroni", "db1:8008", "db1", {"scope": "maestro"})
PATRONI_REPLICA = Target("patroni", "db2:8008", "db2", {"scope": "maestro"})
POSTGRES = Target("postgres", "db1:9187", "db1")
LIST = "`patronictl -c /etc/patroni/config.yml list` on a database host (Kubernetes: `kubectl exec` into a Spilo pod)"

ALERTS = (
    Alert(
        "PatroniNoLeader",
        Condition(
            f"sum by (scope) (patroni_primary{{{PATRONI.match}}}) < 1",
            series={PATRONI.series("patroni_primary"): "0x10", PATRONI_REPLICA.series("patroni_primary"): "0x10"},
            labels={"scope": "maestro"},
        ),
        for_="1m",
        severity="critical",
        summary="A Patroni cluster has no leader, so the database refuses writes.",
        description="Patroni cluster {{ $labels.scope }} has had no primary for a minute.",
        runbook=runbook(
            "No member of the cluster is primary. Writes fail (HAProxy's read-write port has no server); the "
            "API's write paths and MLflow's tracking fail. Patroni normally elects a new leader within its TTL.",
            confirm=[LIST, "Check etcd health: `etcdctl endpoint health --cluster` (EtcdNoLeader?)."],
            fix=[
                "etcd without quorum: restore etcd first; Patroni cannot take the leader lock without it.",
                "No healthy candidate: read `journalctl -u patroni` on each member for why Postgres does not start.",
                "Last resort, when the former primary is lost: `patronictl failover` to the most recent replica "
                "(`patronictl failover --candidate <member>`).",
            ],
            verify=["`patronictl list` shows one Leader; writes through HAProxy's primary port succeed."],
        ),
        fired="Patroni cluster maestro has had no primary for a minute.",
    ),
    Alert(
        "PatroniMultiplePrimaries",
        Condition(
            f"sum by (scope) (patroni_primary{{{PATRONI.match}}}) > 1",
            series={PATRONI.series("patroni_primary"): "1x10", PATRONI_REPLICA.series("patroni_primary"): "1x10"},
            labels={"scope": "maestro"},
        ),
        for_="1m",
        severity="critical",
        summary="More than one member of a Patroni cluster claims to be primary.",
        description="Patroni cluster {{ $labels.scope }} has {{ $value }} members reporting the primary role.",
        runbook=runbook(
            "Split brain: two members accept writes, and the data diverges. Patroni's leader lock should make this "
            "impossible, so a member is running without DCS access or Postgres was promoted by hand.",
            confirm=[LIST, "`SELECT pg_is_in_recovery()` on each member: false on more than one is split brain."],
            fix=[
                "Stop Postgres (`systemctl stop patroni`) on every member that does not hold the leader key in etcd.",
                "Reinitialise the stopped members from the leader: `patronictl reinit <scope> <member>`.",
            ],
            verify=["`patronictl list` shows exactly one Leader and the others streaming/running."],
        ),
        fired="Patroni cluster maestro has 2 members reporting the primary role.",
    ),
    Alert(
        "PatroniPostgresNotRunning",
        state(PATRONI_REPLICA, "patroni_postgres_running", "== 0"),
        for_="2m",
        severity="critical",
        summary="Patroni runs but its PostgreSQL is not running.",
        description="PostgreSQL of Patroni member {{ $labels.instance }} (cluster {{ $labels.scope }}) is not running.",
        runbook=runbook(
            "One member's Postgres is down; the cluster has less redundancy (and, on the primary, fails over).",
            confirm=[LIST, "`journalctl -u patroni -n 200` on the member."],
            fix=[
                "Disk full or permissions: fix, then Patroni restarts Postgres by itself.",
                "A replica that cannot catch up: `patronictl reinit <scope> <member>`.",
            ],
            verify=["`patroni_postgres_running` is 1 and the member is running/streaming in `patronictl list`."],
        ),
        fired="PostgreSQL of Patroni member db2:8008 (cluster maestro) is not running.",
    ),
    Alert(
        "PatroniFailoverOccurred",
        Condition(
            f"max by (scope) (changes(patroni_postgres_timeline{{{PATRONI.match}}}[15m])) > 0",
            series={PATRONI.series("patroni_postgres_timeline"): "3x4 4x10"},
            labels={"scope": "maestro"},
            onset="5m",
        ),
        for_="1m",
        severity="warning",
        summary="A Patroni cluster changed timeline: a failover or switchover happened.",
        description="Patroni cluster {{ $labels.scope }} moved to a new timeline in the last 15 minutes.",
        runbook=runbook(
            "The primary changed. A planned switchover explains it; otherwise the old primary failed and the "
            "cause must be found before it happens again.",
            confirm=[LIST, "`patronictl history` shows the new timeline and when it started."],
            fix=[
                "Unplanned: read the former primary's Patroni and Postgres logs and host metrics around the time.",
                "Check the former primary rejoined as a replica (pg_rewind) or reinitialise it.",
            ],
            verify=["All members are running with one Leader; the alert resolves 15 minutes after the change."],
        ),
        fired="Patroni cluster maestro moved to a new timeline in the last 15 minutes.",
    ),
    Alert(
        "PatroniReplicationLagHigh",
        Condition(
            f"max by (scope) (patroni_xlog_location{{{PATRONI.match}}})\n"
            f"  - on (scope) group_right ()\n"
            f"  (patroni_xlog_replayed_location{{{PATRONI.match}}}"
            f" and on (instance) (patroni_replica{{{PATRONI.match}}} == 1))\n"
            f"  > {c.PG_REPLICATION_LAG_BYTES}",
            series={
                PATRONI.series("patroni_xlog_location"): "1000000000x10",
                PATRONI.series("patroni_replica"): "0x10",
                PATRONI.series("patroni_xlog_replayed_location"): "0x10",
                PATRONI_REPLICA.series("patroni_xlog_location"): "0x10",
                PATRONI_REPLICA.series("patroni_replica"): "1x10",
                PATRONI_REPLICA.series("patroni_xlog_replayed_location"): "800000000x10",
            },
            labels=PATRONI_REPLICA.labels,
        ),
        for_="5m",
        severity="warning",
        summary="A Postgres replica replays WAL far behind its primary.",
        description="Replica {{ $labels.instance }} of cluster {{ $labels.scope }} is {{ $value | humanize1024 }}B "
        "behind the primary.",
        runbook=runbook(
            "The replica lags: reads from the replica port are stale, a failover to it would lose or delay data, "
            "and with synchronous replication commits can stall.",
            confirm=[
                LIST + " (Lag in MB column).",
                "On the primary: `SELECT client_addr, replay_lag FROM pg_stat_replication`.",
            ],
            fix=[
                "Network or disk saturation on the replica: check host alerts and disk IO.",
                "Long queries on the replica that block replay: cancel them or lower max_standby_streaming_delay.",
                "A replica too far behind: `patronictl reinit <scope> <member>`.",
            ],
            verify=["The lag on the Postgres dashboard falls below 64 MiB."],
        ),
        fired="Replica db2:8008 of cluster maestro is 190.7MiB behind the primary.",
    ),
    Alert(
        "PatroniDcsUnreachable",
        on_target(
            PATRONI,
            f"time() - patroni_dcs_last_seen{{{PATRONI.match}}} > 60",
            {"patroni_dcs_last_seen": "0x10"},
            onset="2m",
        ),
        for_="2m",
        severity="warning",
        summary="A Patroni member has not reached etcd for over a minute.",
        description="Patroni member {{ $labels.instance }} last reached the DCS {{ $value | humanizeDuration }} ago.",
        runbook=runbook(
            "The member cannot refresh its state in etcd. A leader that cannot reach etcd demotes itself when its "
            "TTL runs out, so this precedes an unplanned failover.",
            confirm=["`etcdctl endpoint health --cluster` from the member; check the etcd alerts."],
            fix=["Restore the network path or the etcd members (see EtcdNoLeader, EtcdInsufficientMembers)."],
            verify=["`time() - patroni_dcs_last_seen` stays under 30 s."],
        ),
        fired="Patroni member db1:8008 last reached the DCS 4m 0s ago.",
    ),
    Alert(
        "PostgresExporterDown",
        state(POSTGRES, "pg_up", "== 0"),
        for_="2m",
        severity="critical",
        summary="postgres_exporter cannot connect to its PostgreSQL.",
        description="postgres_exporter {{ $labels.instance }} on {{ $labels.instance_name }} "
        "cannot connect to PostgreSQL.",
        runbook=runbook(
            "Postgres on that host refuses connections (down, out of connections, or the exporter's role lost "
            "its rights), and every Postgres panel for it goes blank.",
            confirm=["`psql -h <host> -U prometheus -c 'select 1'`; `systemctl status patroni` on the host."],
            fix=[
                "Postgres down: see PatroniPostgresNotRunning.",
                "Too many connections: see PostgresTooManyConnections.",
                "Credentials: re-run the Ansible postgres role (it manages the exporter's role).",
            ],
            verify=["`pg_up` is 1 for the instance."],
        ),
        fired="postgres_exporter db1:9187 on db1 cannot connect to PostgreSQL.",
    ),
    Alert(
        "PostgresTooManyConnections",
        Condition(
            f"sum by (job, instance, instance_name) (pg_stat_activity_count{{{POSTGRES.match}}})\n"
            f"  / on (job, instance, instance_name) pg_settings_max_connections{{{POSTGRES.match}}}\n"
            f"  > {c.PG_CONNECTIONS_RATIO}",
            series={
                POSTGRES.series("pg_stat_activity_count", datname="maestro", state="active"): "50x20",
                POSTGRES.series("pg_stat_activity_count", datname="maestro", state="idle"): "40x20",
                POSTGRES.series("pg_settings_max_connections"): "100x20",
            },
            labels=POSTGRES.labels,
        ),
        for_="10m",
        severity="warning",
        summary="PostgreSQL is close to max_connections.",
        description="{{ $labels.instance_name }} uses {{ $value | humanizePercentage }} of max_connections.",
        runbook=runbook(
            "New connections will soon be refused: API pools, MLflow and Patroni itself need headroom.",
            confirm=["`SELECT usename, state, count(*) FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC`."],
            fix=[
                "Idle-in-transaction sessions: terminate them and find the client that leaks them.",
                "Too many API instances for the pool size: lower the per-instance pool or raise max_connections "
                "through Patroni's dynamic configuration (`patronictl edit-config`).",
            ],
            verify=["The ratio on the Postgres dashboard falls below 80%."],
        ),
        fired="db1 uses 90% of max_connections.",
    ),
    Alert(
        "PostgresWalArchiveFailures",
        counter(POSTGRES, "pg_stat_archiver_failed_count", "10m", "> 0", values="0+1x30"),
        for_="10m",
        severity="warning",
        summary="PostgreSQL's archive_command keeps failing.",
        description="archive_command on {{ $labels.instance_name }} failed {{ $value | humanize }} times "
        "in 10 minutes.",
        runbook=runbook(
            "WAL segments are not archived: point-in-time recovery has a gap from now on, and pg_wal grows "
            "until the disk fills.",
            confirm=[
                "`SELECT * FROM pg_stat_archiver` on the primary (last_failed_wal, last_failed_time).",
                "Hosts: `pgbackrest --stanza=<scope> check`; Kubernetes: the Spilo pod's WAL-G log.",
            ],
            fix=[
                "Object storage unreachable or credentials expired: fix access to the backup bucket.",
                "A stanza left half-created (archive.info without backup.info): empty the repo path, then "
                "`pgbackrest --stanza=<cluster> stanza-create`.",
            ],
            verify=["`pg_stat_archiver.failed_count` stops growing; WalArchivingStalled does not fire."],
        ),
        fired="archive_command on db1 failed 10 times in 10 minutes.",
    ),
)

GROUP = RuleGroup(name="maestro-postgres", file="postgres", area="Postgres / Patroni", alerts=ALERTS)
