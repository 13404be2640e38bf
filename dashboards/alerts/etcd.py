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

ALERTS = (
    Alert(
        "EtcdNoLeader",
        state(ETCD, "etcd_server_has_leader", "== 0"),
        for_="1m",
        severity="critical",
        summary="An etcd member has no leader.",
        description="etcd member {{ $labels.instance }} has no leader.",
        runbook=runbook(
            "The member cannot serve consistent reads or writes. If most members report this, the cluster has "
            "lost quorum and Patroni cannot hold or take the leader lock.",
            confirm=[HEALTH, "`journalctl -u etcd -n 200` on the member."],
            fix=[
                "Network partition: restore connectivity between the members on the peer port.",
                "A member with a corrupt data dir: remove it (`etcdctl member remove`) and re-add it empty.",
            ],
            verify=["Every member reports the same leader in `endpoint status`."],
        ),
        fired="etcd member etcd1:2379 has no leader.",
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
        for_="3m",
        severity="critical",
        summary="Too few etcd members are up for quorum.",
        description="Only {{ $value }} etcd members of job {{ $labels.job }} are up, less than a quorum.",
        runbook=runbook(
            "etcd has lost quorum: no writes, and Patroni demotes the primary when its TTL expires, so the "
            "database becomes read-only.",
            confirm=[HEALTH, "`systemctl status etcd` on each database host."],
            fix=[
                "Start the stopped members; fix disk or network on their hosts.",
                "If a majority is permanently lost, restore etcd from a snapshot (`etcdctl snapshot restore`) "
                "on fresh members.",
            ],
            verify=["All members healthy in `endpoint health --cluster`; PatroniNoLeader resolves."],
        ),
        fired="Only 1 etcd members of job etcd are up, less than a quorum.",
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
        for_="5m",
        severity="warning",
        summary="etcd elects new leaders too often.",
        description="etcd member {{ $labels.instance }} saw {{ $value | humanize }} leader changes in the last hour.",
        runbook=runbook(
            "Frequent elections mean heartbeats time out: slow disks or a flaky network. Each election briefly "
            "blocks writes and can make Patroni flap.",
            confirm=["Etcd fsync latency (EtcdHighFsyncDuration) and host network errors on the hosts dashboard."],
            fix=["Move etcd's data dir to faster storage; fix packet loss; raise heartbeat/election timeouts."],
            verify=["`increase(etcd_server_leader_changes_seen_total[1h])` stays under 4."],
        ),
        fired="etcd member etcd1:2379 saw 5 leader changes in the last hour.",
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
        for_="10m",
        severity="warning",
        summary="etcd's WAL fsyncs are slow.",
        description="P99 WAL fsync on etcd member {{ $labels.instance }} takes {{ $value | humanizeDuration }}.",
        runbook=runbook(
            "etcd waits on the disk for every write; above ~0.5 s heartbeats miss and leaders change.",
            confirm=["Disk IO panels of the host; `iostat -x 5` on it."],
            fix=["Give etcd its own fast disk or move noisy IO (backups, Postgres) off that disk."],
            verify=["The P99 falls under 0.5 s (typically under 10 ms on SSD)."],
        ),
        fired="P99 WAL fsync on etcd member etcd1:2379 takes 1.018s.",
    ),
)

GROUP = RuleGroup(name="maestro-etcd", file="etcd", area="etcd", alerts=ALERTS)
