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


def primaries(test: str, values: str) -> Condition:
    """The members of each Patroni cluster that report the primary role, counted and `test`ed; in the test both
    members of cluster "maestro" report `values`."""
    return Condition(
        f"sum by (scope) (patroni_primary{{{PATRONI.match}}}) {test}",
        series={PATRONI.series("patroni_primary"): values, PATRONI_REPLICA.series("patroni_primary"): values},
        labels={"scope": "maestro"},
    )


# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "PatroniNoLeader",
        primaries("< 1", "0x10"),
        "1m",
        "critical",
        "A Patroni cluster has no leader, so the database refuses writes.",
        "Patroni cluster {{ $labels.scope }} has had no primary for a minute.",
        runbook(
            "No member of the cluster is primary. Writes fail (HAProxy's read-write port has no server); the "
            "API's write paths and MLflow's tracking fail. Patroni normally elects a new leader within its TTL.",
            [LIST, "Check etcd health: `etcdctl endpoint health --cluster` (EtcdNoLeader?)."],
            [
                "etcd without quorum: restore etcd first; Patroni cannot take the leader lock without it.",
                "No healthy candidate: read `journalctl -u patroni` on each member for why Postgres does not start.",
                "Last resort, when the former primary is lost: `patronictl failover` to the most recent replica "
                "(`patronictl failover --candidate <member>`).",
            ],
            ["`patronictl list` shows one Leader; writes through HAProxy's primary port succeed."],
        ),
    ),
    Alert(
        "PatroniMultiplePrimaries",
        primaries("> 1", "1x10"),
        "1m",
        "critical",
        "More than one member of a Patroni cluster claims to be primary.",
        "Patroni cluster {{ $labels.scope }} has {{ $value }} members reporting the primary role.",
        runbook(
            "Split brain: two members accept writes, and the data diverges. Patroni's leader lock should make this "
            "impossible, so a member is running without DCS access or Postgres was promoted by hand.",
            [LIST, "`SELECT pg_is_in_recovery()` on each member: false on more than one is split brain."],
            [
                "Stop Postgres (`systemctl stop patroni`) on every member that does not hold the leader key in etcd.",
                "Reinitialise the stopped members from the leader: `patronictl reinit <scope> <member>`.",
            ],
            ["`patronictl list` shows exactly one Leader and the others streaming/running."],
        ),
        "2",
    ),
    Alert(
        "PatroniPostgresNotRunning",
        state(PATRONI_REPLICA, "patroni_postgres_running", "== 0"),
        "2m",
        "critical",
        "Patroni runs but its PostgreSQL is not running.",
        "PostgreSQL of Patroni member {{ $labels.instance }} (cluster {{ $labels.scope }}) is not running.",
        runbook(
            "One member's Postgres is down; the cluster has less redundancy (and, on the primary, fails over).",
            [LIST, "`journalctl -u patroni -n 200` on the member."],
            [
                "Disk full or permissions: fix, then Patroni restarts Postgres by itself.",
                "A replica that cannot catch up: `patronictl reinit <scope> <member>`.",
            ],
            ["`patroni_postgres_running` is 1 and the member is running/streaming in `patronictl list`."],
        ),
    ),
    Alert(
        "PatroniFailoverOccurred",
        Condition(
            f"max by (scope) (changes(patroni_postgres_timeline{{{PATRONI.match}}}[15m])) > 0",
            series={PATRONI.series("patroni_postgres_timeline"): "3x4 4x10"},
            labels={"scope": "maestro"},
            onset="5m",
        ),
        "1m",
        "warning",
        "A Patroni cluster changed timeline: a failover or switchover happened.",
        "Patroni cluster {{ $labels.scope }} moved to a new timeline in the last 15 minutes.",
        runbook(
            "The primary changed. A planned switchover explains it; otherwise the old primary failed and the "
            "cause must be found before it happens again.",
            [LIST, "`patronictl history` shows the new timeline and when it started."],
            [
                "Unplanned: read the former primary's Patroni and Postgres logs and host metrics around the time.",
                "Check the former primary rejoined as a replica (pg_rewind) or reinitialise it.",
            ],
            ["All members are running with one Leader; the alert resolves 15 minutes after the change."],
        ),
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
        "5m",
        "warning",
        "A Postgres replica replays WAL far behind its primary.",
        "Replica {{ $labels.instance }} of cluster {{ $labels.scope }} is {{ $value | humanize1024 }}B "
        "behind the primary.",
        runbook(
            "The replica lags: reads from the replica port are stale, a failover to it would lose or delay data, "
            "and with synchronous replication commits can stall.",
            [
                LIST + " (Lag in MB column).",
                "On the primary: `SELECT client_addr, replay_lag FROM pg_stat_replication`.",
            ],
            [
                "Network or disk saturation on the replica: check host alerts and disk IO.",
                "Long queries on the replica that block replay: cancel them or lower max_standby_streaming_delay.",
                "A replica too far behind: `patronictl reinit <scope> <member>`.",
            ],
            ["The lag on the Postgres dashboard falls below 64 MiB."],
        ),
        "190.7Mi",
    ),
    Alert(
        "PatroniDcsUnreachable",
        on_target(
            PATRONI,
            f"time() - patroni_dcs_last_seen{{{PATRONI.match}}} > 60",
            {"patroni_dcs_last_seen": "0x10"},
            onset="2m",
        ),
        "2m",
        "warning",
        "A Patroni member has not reached etcd for over a minute.",
        "Patroni member {{ $labels.instance }} last reached the DCS {{ $value | humanizeDuration }} ago.",
        runbook(
            "The member cannot refresh its state in etcd. A leader that cannot reach etcd demotes itself when its "
            "TTL runs out, so this precedes an unplanned failover.",
            ["`etcdctl endpoint health --cluster` from the member; check the etcd alerts."],
            ["Restore the network path or the etcd members (see EtcdNoLeader, EtcdInsufficientMembers)."],
            ["`time() - patroni_dcs_last_seen` stays under 30 s."],
        ),
        "4m 0s",
    ),
    Alert(
        "PostgresExporterDown",
        state(POSTGRES, "pg_up", "== 0"),
        "2m",
        "critical",
        "postgres_exporter cannot connect to its PostgreSQL.",
        "postgres_exporter {{ $labels.instance }} on {{ $labels.instance_name }} cannot connect to PostgreSQL.",
        runbook(
            "Postgres on that host refuses connections (down, out of connections, or the exporter's role lost "
            "its rights), and every Postgres panel for it goes blank.",
            ["`psql -h <host> -U prometheus -c 'select 1'`; `systemctl status patroni` on the host."],
            [
                "Postgres down: see PatroniPostgresNotRunning.",
                "Too many connections: see PostgresTooManyConnections.",
                "Credentials: re-run the Ansible postgres role (it manages the exporter's role).",
            ],
            ["`pg_up` is 1 for the instance."],
        ),
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
        "10m",
        "warning",
        "PostgreSQL is close to max_connections.",
        "{{ $labels.instance_name }} uses {{ $value | humanizePercentage }} of max_connections.",
        runbook(
            "New connections will soon be refused: API pools, MLflow and Patroni itself need headroom.",
            ["`SELECT usename, state, count(*) FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC`."],
            [
                "Idle-in-transaction sessions: terminate them and find the client that leaks them.",
                "Too many API instances for the pool size: lower the per-instance pool or raise max_connections "
                "through Patroni's dynamic configuration (`patronictl edit-config`).",
            ],
            ["The ratio on the Postgres dashboard falls below 80%."],
        ),
        "90%",
    ),
    Alert(
        "PostgresWalArchiveFailures",
        counter(POSTGRES, "pg_stat_archiver_failed_count", "10m", "> 0", values="0+1x30"),
        "10m",
        "warning",
        "PostgreSQL's archive_command keeps failing.",
        "archive_command on {{ $labels.instance_name }} failed {{ $value | humanize }} times in 10 minutes.",
        runbook(
            "WAL segments are not archived: point-in-time recovery has a gap from now on, and pg_wal grows "
            "until the disk fills.",
            [
                "`SELECT * FROM pg_stat_archiver` on the primary (last_failed_wal, last_failed_time).",
                "Hosts: `pgbackrest --stanza=<scope> check`; Kubernetes: the Spilo pod's WAL-G log.",
            ],
            [
                "Object storage unreachable or credentials expired: fix access to the backup bucket.",
                "A stanza left half-created (archive.info without backup.info): empty the repo path, then "
                "`pgbackrest --stanza=<cluster> stanza-create`.",
            ],
            ["`pg_stat_archiver.failed_count` stops growing; WalArchivingStalled does not fire."],
        ),
        "10",
    ),
)

GROUP = RuleGroup(name="maestro-postgres", file="postgres", area="Postgres / Patroni", alerts=ALERTS)
