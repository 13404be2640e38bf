"""Backups and DR: last successful backup per type, WAL archive age, restore drill results."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import Board, age, gauge, single, ts

BOARD = Board(
    uid="maestro-backups",
    title="Maestro / Backups and DR",
    description="pgBackRest / WAL-G results from the node_exporter textfile metrics: backup age per type, WAL "
    "archive age, and the restore drills' RTO and RPO.",
    job_regex=c.job_regex("node"),
    rows=(
        (
            "Backups",
            (
                ts(
                    "Age of the last successful backup, per type",
                    f"Seconds since the last good backup per cluster and type; full backups alert after "
                    f"{c.BACKUP_FULL_MAX_AGE_SECONDS // 86400} days.",
                    "s",
                    age("maestro_backup_last_success_timestamp_seconds", "cluster, type"),
                ),
                ts(
                    "WAL archive age",
                    f"Seconds since WAL was last archived; alerts above {c.WAL_ARCHIVE_MAX_AGE_SECONDS} s.",
                    "s",
                    age("maestro_wal_archive_last_success_timestamp_seconds", "cluster"),
                ),
                single(
                    "Last run succeeded",
                    "1 if the last backup run of each type succeeded, 0 if it failed.",
                    "short",
                    gauge("min", "maestro_backup_last_run_success", "cluster, type"),
                    width=12,
                ),
                ts(
                    "Backup duration",
                    "Duration of the last backup run per type.",
                    "s",
                    gauge("max", "maestro_backup_last_duration_seconds", "cluster, type"),
                ),
            ),
        ),
        (
            "Restore drills",
            (
                single(
                    "Last successful drill",
                    "Seconds since the last restore drill succeeded.",
                    "s",
                    age("maestro_restore_drill_last_success_timestamp_seconds", "cluster"),
                    width=8,
                ),
                single(
                    "Drill RTO",
                    f"Time the last drill took to restore service; objective {c.RESTORE_DRILL_RTO_SECONDS} s.",
                    "s",
                    gauge("max", "maestro_restore_drill_rto_seconds", "cluster"),
                    width=8,
                ),
                single(
                    "Drill RPO",
                    f"Data the last drill's restore lost; objective {c.RESTORE_DRILL_RPO_SECONDS} s.",
                    "s",
                    gauge("max", "maestro_restore_drill_rpo_seconds", "cluster"),
                    width=8,
                ),
            ),
        ),
    ),
)
