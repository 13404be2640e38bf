"""S3 buckets with every protection: public access blocked, ownership enforced (no ACLs), SSE-KMS with a bucket
key, versioning, a TLS-only policy, access logging, lifecycle rules; Object Lock on the backup bucket in prod;
replication to a bucket in the DR region when the stack names one.

The access-log bucket itself is the exception on two points, both forced by AWS: S3 server access logs and ALB
access logs can only be delivered to buckets encrypted with SSE-S3 (not SSE-KMS), and it does not log to itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.aws.policies import deny_insecure_transport, json_output, service_trust

Purpose = Literal["backup", "artifact", "logs"]


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
