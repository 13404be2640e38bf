"""S3 buckets with every protection: public access blocked, ownership enforced (no ACLs), SSE-KMS with a bucket
key, versioning, a TLS-only policy, access logging, lifecycle rules; Object Lock on the backup bucket in prod;
replication to a bucket in the DR region when the stack names one. `buckets` makes the Foundation's set.

The access-log bucket itself is the exception on two points, both forced by AWS: S3 server access logs and ALB
access logs can only be delivered to buckets encrypted with SSE-S3 (not SSE-KMS), and it does not log to itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.foundations.aws.keys import Keys
from components.foundations.aws.policies import deny_insecure_transport, json_output, service_trust
from components.foundations.contract import BucketPurpose

Purpose = Literal["backup", "artifact", "logs"]
# Regions older than 2022 deliver ALB access logs from a regional ELB account, newer ones from a service principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
    "eu-central-1": "054676820928",
}


@dataclass(frozen=True)
class BucketSpec:
    purpose: Purpose
    """What the bucket holds."""
    expire_days: int | None
    """Delete current objects after this many days (None: keep)."""
    noncurrent_days: int
    """Delete noncurrent versions after this many days."""
    object_lock_days: int | None = None
    """Governance-mode Object Lock retention (backup bucket in prod); None disables Object Lock."""


class SecureBucket(pulumi.ComponentResource):
    """One bucket and its protections. Exposes `bucket` and `arn`."""

    def __init__(
        self,
        name: str,
        spec: BucketSpec,
        *,
        kms_key_arn: pulumi.Input[str] | None,
        log_bucket: pulumi.Input[str] | None,
        force_destroy: bool,
        extra_statements: list[dict[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=f"{name}-"[:37],
            object_lock_enabled=spec.object_lock_days is not None,
            force_destroy=force_destroy,
            tags={"purpose": spec.purpose},
            opts=pulumi.ResourceOptions(parent=self, protect=not force_destroy),
        )
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket
        pab = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        if kms_key_arn is not None:
            sse: dict[str, Any] = {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
        else:
            sse = {"sse_algorithm": "AES256"}
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": sse, "bucket_key_enabled": kms_key_arn is not None}],
            opts=child,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=json_output(
                {
                    "Version": "2012-10-17",
                    "Statement": [deny_insecure_transport(self.bucket.arn), *(extra_statements or [])],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pab]),
        )
        if log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=self.bucket.id,
                target_bucket=log_bucket,
                target_prefix=f"s3/{spec.purpose}/",
                opts=child,
            )
        rule: dict[str, Any] = {
            "id": "retention",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            "noncurrent_version_expiration": {"noncurrent_days": spec.noncurrent_days},
        }
        if spec.expire_days is not None:
            rule["expiration"] = {"days": spec.expire_days}
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[rule],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]),
        )
        if spec.object_lock_days is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=self.bucket.id,
                object_lock_enabled="Enabled",
                # Governance: nobody deletes a backup early by accident; break-glass needs an explicit permission.
                rule={"default_retention": {"mode": "GOVERNANCE", "days": spec.object_lock_days}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]),
            )
        self.register_outputs({"name": self.name, "arn": self.arn})

    def replicate_to(
        self,
        name: str,
        destination: SecureBucket,
        *,
        source_key_arn: pulumi.Input[str],
        destination_key_arn: pulumi.Input[str],
    ) -> aws.s3.BucketReplicationConfig:
        """Replicate every object (SSE-KMS ones re-encrypted with the DR key) to `destination`."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=service_trust("s3.amazonaws.com"), opts=child)
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=json_output(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": [self.arn],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                                "s3:GetObjectRetention",
                                "s3:GetObjectLegalHold",
                            ],
                            "Resource": [pulumi.Output.concat(self.arn, "/*")],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                            "Resource": [pulumi.Output.concat(destination.arn, "/*")],
                        },
                        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [source_key_arn]},
                        {
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                            "Resource": [destination_key_arn],
                        },
                    ],
                }
            ),
            opts=child,
        )
        return aws.s3.BucketReplicationConfig(
            f"{name}-config",
            bucket=self.bucket.id,
            role=role.arn,
            rules=[
                {
                    "id": "dr",
                    "status": "Enabled",
                    "filter": {},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": destination.arn,
                        "storage_class": "STANDARD_IA",
                        "encryption_configuration": {"replica_kms_key_id": destination_key_arn},
                    },
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning, destination.versioning]),
        )


@dataclass(frozen=True)
class Buckets:
    """The Foundation's buckets in its own region."""

    logs: SecureBucket
    """Access logs of the other buckets and of the ALB (SSE-S3, see the module docstring)."""
    data: Mapping[BucketPurpose, SecureBucket]
    """The backup and artifact buckets (SSE-KMS with the storage key)."""


def buckets(
    name: str,
    parent: pulumi.Resource,
    *,
    environment: str,
    region: str,
    dr_region: str | None,
    retention_days: int,
    force_destroy: bool,
    keys: Keys,
    tags: Mapping[str, str],
    account: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
) -> Buckets:
    """The access-log bucket first (the others log into it), then the backup and artifact buckets; replicas of
    those in `dr_region` (with their own keys and log bucket, through a provider of that region under `parent`)."""
    prod = environment == "prod"
    logs = SecureBucket(
        f"{name}-logs",
        BucketSpec("logs", expire_days=365 if prod else 30, noncurrent_days=30),
        kms_key_arn=None,
        log_bucket=None,
        force_destroy=force_destroy,
        extra_statements=log_delivery_statements(account, region),
        opts=opts,
    )
    specs: dict[BucketPurpose, BucketSpec] = {
        # Backups outlive their retention by a week so WAL-G's own deletion runs first.
        "backup": BucketSpec(
            "backup",
            expire_days=retention_days + 7,
            noncurrent_days=7,
            object_lock_days=retention_days if prod else None,
        ),
        "artifact": BucketSpec("artifact", expire_days=None, noncurrent_days=90 if prod else 7),
    }
    data = _data_buckets(
        name, specs, kms_key_arn=keys.keys["storage"].arn, log_bucket=logs.name, force_destroy=force_destroy, opts=opts
    )
    if dr_region:
        _replicate(name, parent, dr_region, specs, data, keys, tags, force_destroy, account)
    return Buckets(logs=logs, data=data)


def _data_buckets(
    prefix: str,
    specs: Mapping[BucketPurpose, BucketSpec],
    *,
    kms_key_arn: pulumi.Input[str],
    log_bucket: pulumi.Input[str],
    force_destroy: bool,
    opts: pulumi.ResourceOptions,
) -> dict[BucketPurpose, SecureBucket]:
    """One SecureBucket per purpose, `<prefix>-<purpose>`, encrypted with `kms_key_arn` and logging into `log_bucket`
    (the same in the primary region and in the DR region)."""
    return {
        purpose: SecureBucket(
            f"{prefix}-{purpose}",
            spec,
            kms_key_arn=kms_key_arn,
            log_bucket=log_bucket,
            force_destroy=force_destroy,
            opts=opts,
        )
        for purpose, spec in specs.items()
    }


def log_delivery_statements(account: pulumi.Output[str], region: str) -> list[dict[str, Any]]:
    """S3 server access logs and ALB access logs may write into the log bucket, from this account only."""
    bucket_objects = "arn:aws:s3:::*"  # narrowed by the SourceAccount condition; the name is generated
    elb_principal: dict[str, Any] = (
        {"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS[region]}:root"}
        if region in ELB_LOG_ACCOUNTS
        else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    )
    return [
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": bucket_objects,
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
        {
            "Sid": "AlbAccessLogs",
            "Effect": "Allow",
            "Principal": elb_principal,
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat("arn:aws:s3:::*/alb/AWSLogs/", account, "/*"),
        },
    ]


def _replicate(
    name: str,
    parent: pulumi.Resource,
    dr_region: str,
    specs: Mapping[BucketPurpose, BucketSpec],
    data: Mapping[BucketPurpose, SecureBucket],
    keys: Keys,
    tags: Mapping[str, str],
    force_destroy: bool,
    account: pulumi.Output[str],
) -> None:
    dr_provider = aws.Provider(
        f"{name}-dr-provider",
        region=dr_region,
        default_tags={"tags": dict(tags)},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    dr = pulumi.ResourceOptions(parent=parent, providers=[dr_provider])
    dr_keys = Keys(f"{name}-dr-keys", account_id=account, region=dr_region, deletion_window_days=30, opts=dr)
    dr_logs = SecureBucket(
        f"{name}-dr-logs",
        BucketSpec("logs", expire_days=365, noncurrent_days=30),
        kms_key_arn=None,
        log_bucket=None,
        force_destroy=force_destroy,
        opts=dr,
        extra_statements=log_delivery_statements(account, dr_region)[:1],
    )
    replicas = _data_buckets(
        f"{name}-dr",
        specs,
        kms_key_arn=dr_keys.keys["storage"].arn,
        log_bucket=dr_logs.name,
        force_destroy=force_destroy,
        opts=dr,
    )
    for purpose, replica in replicas.items():
        data[purpose].replicate_to(
            f"{name}-{purpose}-replication",
            replica,
            source_key_arn=keys.keys["storage"].arn,
            destination_key_arn=dr_keys.keys["storage"].arn,
        )
