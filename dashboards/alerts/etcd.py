"""Alerts on etcd, Patroni's DCS on the hosts path (etcd's own /metrics)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, state
from dashboards.model import Alert, Condition, RuleGroup

MEMBERS = tuple(Target("etcd", f"etcd{i}:2379", f"db{i}") for i in (1, 2, 3))
ETCD = MEMBERS[0]
"""The member the single-member scenarios watch."""
HEALTH = "`etcdctl --endpoints=<all members> endpoint status --cluster -w table` (with the client TLS flags)"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "EtcdNoLeader",
        state(ETCD, "etcd_server_has_leader", "== 0"),
        "1m",
        "critical",
        "An etcd member has no leader.",
        "etcd member {{ $labels.instance }} has no leader.",
        runbook(
            "The member cannot serve consistent reads or writes. If most members report this, the cluster has "
            "lost quorum and Patroni cannot hold or take the leader lock.",
            [HEALTH, "`journalctl -u etcd -n 200` on the member."],
            [
                "Network partition: restore connectivity between the members on the peer port.",
                "A member with a corrupt data dir: remove it (`etcdctl member remove`) and re-add it empty.",
            ],
            ["Every member reports the same leader in `endpoint status`."],
        ),
    ),
    Alert(
        "EtcdInsufficientMembers",
        Condition(
            f"sum by (job) (up{{{ETCD.match}}} == bool 1) < ((count by (job) (up{{{ETCD.match}}}) + 1) / 2)",
            series={
                ETCD.series("up"): "1x10",
                MEMBERS[1].series("up"): "0x10",
                MEMBERS[2].series("up"): "0x10",
            },
            labels={"job": "etcd"},
        ),
        "3m",
        "critical",
        "Too few etcd members are up for quorum.",
        "Only {{ $value }} etcd members of job {{ $labels.job }} are up, less than a quorum.",
        runbook(
            "etcd has lost quorum: no writes, and Patroni demotes the primary when its TTL expires, so the "
            "database becomes read-only.",
            [HEALTH, "`systemctl status etcd` on each database host."],
            [
                "Start the stopped members; fix disk or network on their hosts.",
                "If a majority is permanently lost, restore etcd from a snapshot (`etcdctl snapshot restore`) "
                "on fresh members.",
            ],
            ["All members healthy in `endpoint health --cluster`; PatroniNoLeader resolves."],
        ),
        "1",
    ),
    Alert(
        "EtcdFrequentLeaderChanges",
        counter(
            ETCD,
            "etcd_server_leader_changes_seen_total",
            "1h",
            f">= {c.ETCD_LEADER_CHANGES_PER_HOUR}",
            values="0 1 2 3 4 5 5x20",
            onset="4m",
        ),
        "5m",
        "warning",
        "etcd elects new leaders too often.",
        "etcd member {{ $labels.instance }} saw {{ $value | humanize }} leader changes in the last hour.",
        runbook(
            "Frequent elections mean heartbeats time out: slow disks or a flaky network. Each election briefly "
            "blocks writes and can make Patroni flap.",
            ["Etcd fsync latency (EtcdHighFsyncDuration) and host network errors on the hosts dashboard."],
            ["Move etcd's data dir to faster storage; fix packet loss; raise heartbeat/election timeouts."],
            ["`increase(etcd_server_leader_changes_seen_total[1h])` stays under 4."],
        ),
        "5",
    ),
    Alert(
        "EtcdHighFsyncDuration",
        Condition(
            "histogram_quantile(0.99,\n"
            "  sum by (job, instance, instance_name, le)\n"
            f"    (rate(etcd_disk_wal_fsync_duration_seconds_bucket{{{ETCD.match}}}[5m]))\n"
            f") > {c.ETCD_FSYNC_P99_SECONDS}",
            series={
                ETCD.series("etcd_disk_wal_fsync_duration_seconds_bucket", le="0.512"): "0+10x30",
                ETCD.series("etcd_disk_wal_fsync_duration_seconds_bucket", le="1.024"): "0+100x30",
                ETCD.series("etcd_disk_wal_fsync_duration_seconds_bucket", le="+Inf"): "0+100x30",
            },
            labels=ETCD.labels,
            onset="1m",
        ),
        "10m",
        "warning",
        "etcd's WAL fsyncs are slow.",
        "P99 WAL fsync on etcd member {{ $labels.instance }} takes {{ $value | humanizeDuration }}.",
        runbook(
            "etcd waits on the disk for every write; above ~0.5 s heartbeats miss and leaders change.",
            ["Disk IO panels of the host; `iostat -x 5` on it."],
            ["Give etcd its own fast disk or move noisy IO (backups, Postgres) off that disk."],
            ["The P99 falls under 0.5 s (typically under 10 ms on SSD)."],
        ),
        "1.018s",
    ),
)

GROUP = RuleGroup(name="maestro-etcd", file="etcd", area="etcd", alerts=ALERTS)
