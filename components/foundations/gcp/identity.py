"""Workload Identity: one Google service account per requested Kubernetes service account, which only that one
may act as, allowed only on the objects of its one bucket."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_gcp as gcp

from components.foundations.cloud import Scope
from components.foundations.contract import BucketPurpose, WorkloadIdentity
from components.foundations.gcp.args import GcpFoundationArgs

BUCKET_OBJECT_ROLE = "roles/storage.objectUser"  # read, write, list and delete objects; no bucket or IAM admin


def workload_identities(
    scope: Scope[GcpFoundationArgs], buckets: Mapping[BucketPurpose, gcp.storage.Bucket]
) -> dict[str, WorkloadIdentity]:
    name, cfg, args = scope.name, scope.args.config, scope.args
    result: dict[str, WorkloadIdentity] = {}
    for key, request in args.identities.items():
        account_id = f"mae-{args.environment}-{key}"
        if not 6 <= len(account_id) <= 30:
            raise ValueError(f"identities.{key}: service account id {account_id!r} must be 6-30 characters")
        account = gcp.serviceaccount.Account(
            f"{name}-{key}-sa",
            project=cfg.project,
            account_id=account_id,
            display_name=f"Maestro {request.namespace}/{request.service_account} ({request.bucket} bucket)",
            opts=scope.child,
        )
        email = account.account_id.apply(lambda a: f"{a}@{cfg.project}.iam.gserviceaccount.com")
        # The Kubernetes service account may act as this Google one (and nothing else may).
        gcp.serviceaccount.IAMMember(
            f"{name}-{key}-wi",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{cfg.workload_pool}[{request.namespace}/{request.service_account}]",
            opts=scope.child,
        )
        # The only grant this identity has: objects of its own bucket.
        gcp.storage.BucketIAMMember(
            f"{name}-{key}-bucket",
            bucket=buckets[request.bucket].name,
            role=BUCKET_OBJECT_ROLE,
            member=email.apply(lambda e: f"serviceAccount:{e}"),
            opts=scope.child,
        )
        result[key] = WorkloadIdentity(
            namespace=request.namespace,
            service_account=request.service_account,
            annotations={"iam.gke.io/gcp-service-account": email},
        )
    return result
