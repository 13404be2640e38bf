"""Workload identity (IRSA): one IAM role per requested service account, trusted only by that service account and
allowed only on its one bucket and that bucket's key."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.foundations.aws.policies import bucket_rw, irsa_trust
from components.foundations.contract import IdentityRequest, WorkloadIdentity

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


def workload_identities(
    name: str,
    requests: Mapping[str, IdentityRequest],
    *,
    oidc_provider_arn: pulumi.Input[str],
    issuer: pulumi.Input[str],
    bucket_arns: Mapping[str, pulumi.Input[str]],
    key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> dict[str, WorkloadIdentity]:
    """Create the roles; returns what the workloads put on their service accounts."""
    out: dict[str, WorkloadIdentity] = {}
    for key, req in requests.items():
        role = aws.iam.Role(
            f"{name}-{key}-role",
            assume_role_policy=irsa_trust(oidc_provider_arn, issuer, req.namespace, req.service_account),
            opts=opts,
        )
        aws.iam.RolePolicy(
            f"{name}-{key}-policy",
            role=role.id,
            policy=bucket_rw(bucket_arns[req.bucket], [key_arn]),
            opts=opts,
        )
        out[key] = WorkloadIdentity(
            namespace=req.namespace,
            service_account=req.service_account,
            annotations={ROLE_ARN_ANNOTATION: role.arn, "eks.amazonaws.com/sts-regional-endpoints": "true"},
        )
    return out
