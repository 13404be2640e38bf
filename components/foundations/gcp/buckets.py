"""GCS buckets for backups and artifacts: uniform access, public access prevented, CMEK, lifecycle rules; the prod
backup bucket under a retention policy; dual-region with turbo replication when the stack asks. Access is logged
as Cloud Audit Logs Data Access (DATA_READ, DATA_WRITE) for Cloud Storage in the project, the current form of GCS
access logs (usage logs into a log bucket are the legacy one)."""

from __future__ import annotations

from typing import Any

import pulumi_gcp as gcp

from components.config.gcp import dual_region_location
from components.foundations.cloud import Scope
from components.foundations.contract import BUCKET_PURPOSES, BucketPurpose
from components.foundations.gcp.args import GcpFoundationArgs
from components.foundations.gcp.keys import Keys

# Cloud Audit Logs Data Access for Cloud Storage: every object read and write in the project is logged.
STORAGE_AUDIT_LOG_TYPES = ("DATA_READ", "DATA_WRITE")


def buckets(scope: Scope[GcpFoundationArgs], keys: Keys) -> dict[BucketPurpose, gcp.storage.Bucket]:
    name, cfg, args = scope.name, scope.args.config, scope.args
    prod = args.environment == "prod"
    retention_days = args.postgres.backup_retention_days
    if cfg.dual_region is not None:
        location = dual_region_location(cfg.dual_region[0])
        placement: dict[str, Any] | None = {"data_locations": [r.upper() for r in cfg.dual_region]}
    else:
        location, placement = cfg.region.upper(), None
    made: dict[BucketPurpose, gcp.storage.Bucket] = {}
    for purpose in BUCKET_PURPOSES:
        backup = purpose == "backup"
        # A bucket retention policy (WORM) and object versioning exclude each other on GCS. The prod backup
        # bucket keeps every object for the retention period instead, which is the stronger guarantee.
        locked = backup and prod
        lifecycle: list[dict[str, Any]] = [
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 1}},
        ]
        if not locked:
            lifecycle.append(
                {
                    "action": {"type": "Delete"},
                    "condition": {
                        "days_since_noncurrent_time": cfg.noncurrent_version_days,
                        "with_state": "ARCHIVED",
                    },
                }
            )
        if backup:
            # WAL-G deletes what falls out of retention; this is the safety net for what it leaves behind.
            lifecycle.append({"action": {"type": "Delete"}, "condition": {"age": retention_days + 7}})
        made[purpose] = gcp.storage.Bucket(
            f"{name}-{purpose}",
            project=cfg.project,
            name=f"{cfg.buckets_prefix}-{purpose}",
            location=location,
            custom_placement_config=placement,
            rpo="ASYNC_TURBO" if cfg.turbo_replication else None,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            encryption={"default_kms_key_name": keys.keys["storage"].id},
            versioning={"enabled": not locked},
            retention_policy={"retention_period": retention_days * 86400} if locked else None,
            soft_delete_policy={"retention_duration_seconds": 7 * 86400},
            lifecycle_rules=lifecycle,
            force_destroy=False,
            labels={**scope.tags, "purpose": purpose},
            opts=scope.opts(protect=args.deletion_protection, depends_on=keys.grants),
        )
    # Access logging for both buckets (MAESTRO-STO-006). Project-wide and authoritative for this one service:
    # an audit config for storage.googleapis.com set elsewhere in the project is replaced by this one.
    gcp.projects.IAMAuditConfig(
        f"{name}-storage-audit",
        project=cfg.project,
        service="storage.googleapis.com",
        audit_log_configs=[{"log_type": t} for t in STORAGE_AUDIT_LOG_TYPES],
        opts=scope.child,
    )
    return made
