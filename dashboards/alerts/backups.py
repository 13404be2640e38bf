"""Alerts on backups and DR, from the node_exporter textfile metrics written after every pgBackRest / WAL-G run
and every restore drill (docs/interfaces.md, "Backup metrics")."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import age, state
from dashboards.model import Alert, Condition, RuleGroup

BACKUP = Target("node", "db1:9100", "db1", {"cluster": "maestro"})
"""node_exporter on the database host that writes the cluster's backup and drill metrics."""
INFO = "Hosts: `pgbackrest --stanza=<cluster> info`; Kubernetes: `wal-g backup-list` in the Spilo pod"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "BackupFullTooOld",
        age(
            BACKUP,
            "maestro_backup_last_success_timestamp_seconds",
            c.BACKUP_FULL_MAX_AGE_SECONDS,
            match='type="full"',
            labels={"type": "full"},
            values="-700000x60",
        ),
        "30m",
        "critical",
        "The last successful full backup is too old.",
        "The last full backup of cluster {{ $labels.cluster }} succeeded {{ $value | humanizeDuration }} ago.",
        runbook(
            "No full backup within the schedule: restores need ever longer WAL replays, and retention may expire "
            "the last good full backup.",
            [INFO, "The backup timer's log: `journalctl -u maestro-backup-full`."],
            [
                "Run the backup by hand: `ansible-playbook ansible/backup.yml -e backup_type=full`.",
                "Repository full or unreachable: fix the bucket (quota, credentials, TLS).",
            ],
            ['`maestro_backup_last_success_timestamp_seconds{type="full"}` is recent; alert resolves.'],
        ),
        "8d 2h 56m 40s",
    ),
    Alert(
        "BackupRunFailed",
        state(BACKUP, "maestro_backup_last_run_success", "== 0", labels={"type": "incr"}),
        "5m",
        "warning",
        "The last backup run failed.",
        "The last {{ $labels.type }} backup of cluster {{ $labels.cluster }} failed.",
        runbook(
            "The most recent backup run did not complete; the previous successful backup is still valid.",
            [INFO, "The backup job's log (systemd unit or Kubernetes CronJob)."],
            ["Fix the cause named in the log and re-run the backup of that type."],
            ["`maestro_backup_last_run_success` is 1 after the next run."],
        ),
    ),
    Alert(
        "WalArchivingStalled",
        age(
            BACKUP,
            "maestro_wal_archive_last_success_timestamp_seconds",
            c.WAL_ARCHIVE_MAX_AGE_SECONDS,
            values="-1000x20",
        ),
        "5m",
        "critical",
        "WAL archiving has not succeeded recently.",
        "WAL of cluster {{ $labels.cluster }} was last archived {{ $value | humanizeDuration }} ago.",
        runbook(
            "New WAL is not reaching the backup repository: point-in-time recovery cannot go past the last "
            "archived segment (RPO grows every minute), and pg_wal fills the primary's disk.",
            [
                "`SELECT * FROM pg_stat_archiver` on the primary; PostgresWalArchiveFailures.",
                "Hosts: `pgbackrest --stanza=<cluster> check`.",
            ],
            ["Restore access to the repository; archiving catches up by itself once archive_command works."],
            ["`maestro_wal_archive_last_success_timestamp_seconds` moves forward every minute."],
        ),
        "21m 40s",
    ),
    Alert(
        "RestoreDrillTooOld",
        age(
            BACKUP,
            "maestro_restore_drill_last_success_timestamp_seconds",
            c.RESTORE_DRILL_MAX_AGE_SECONDS,
            values="-3100000x70",
        ),
        "1h",
        "warning",
        "No restore drill has succeeded recently.",
        "The last successful restore drill of cluster {{ $labels.cluster }} was {{ $value | humanizeDuration }} ago.",
        runbook(
            "Backups that are never restored are not known to work. The monthly drill has not succeeded.",
            ["The drill job's log; `maestro_restore_drill_last_success_timestamp_seconds` on Grafana."],
            [
                "Run the drill: `maestro drill --inventory <inventory>` (it restores into the `postgres_restore` "
                "hosts; runbooks/restore-point-in-time.md)."
            ],
            ["The timestamp is recent and RTO/RPO panels show the new results."],
        ),
        "35d 22h 6m 40s",
    ),
    Alert(
        "RestoreDrillObjectivesMissed",
        Condition(
            f"max by (cluster) (maestro_restore_drill_rto_seconds{{{BACKUP.match}}}) > {c.RESTORE_DRILL_RTO_SECONDS}\n"
            f"or\n"
            f"max by (cluster) (maestro_restore_drill_rpo_seconds{{{BACKUP.match}}}) > {c.RESTORE_DRILL_RPO_SECONDS}",
            series={
                BACKUP.series("maestro_restore_drill_rto_seconds"): "5400x10",
                BACKUP.series("maestro_restore_drill_rpo_seconds"): "60x10",
            },
            labels={"cluster": "maestro"},
        ),
        "5m",
        "warning",
        "The last restore drill missed the RTO or RPO objective.",
        "The last restore drill of cluster {{ $labels.cluster }} missed its objective "
        "(measured {{ $value | humanizeDuration }}).",
        runbook(
            f"A real restore would take longer than {c.RESTORE_DRILL_RTO_SECONDS} s or lose more than "
            f"{c.RESTORE_DRILL_RPO_SECONDS} s of data.",
            ["Backups dashboard, panels 'Restore drill RTO' and 'RPO'."],
            [
                "RTO: take full backups more often (less WAL to replay), raise process-max.",
                "RPO: check WAL archiving lag (WalArchivingStalled) and archive_timeout.",
            ],
            ["The next drill reports values under the objectives."],
        ),
        "1h 30m 0s",
    ),
)

GROUP = RuleGroup(name="maestro-backups", file="backups", area="Backups and DR", alerts=ALERTS)
