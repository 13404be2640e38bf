"""IAM policy documents built as plain JSON (no `get_policy_document` invoke)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def json_output(value: Any) -> pulumi.Output[str]:
    """A JSON document that may contain Outputs."""
    return pulumi.Output.json_dumps(value)


def deny_insecure_transport(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The TLS-only statement every bucket policy starts with."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def irsa_trust(
    oidc_provider_arn: pulumi.Input[str], issuer: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """Trust policy: only `system:serviceaccount:<namespace>:<service_account>` of this cluster may assume."""
    host = pulumi.Output.from_input(issuer).apply(lambda i: i.removeprefix("https://"))
    return json_output(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": host.apply(
                            lambda h: {
                                f"{h}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                f"{h}:aud": "sts.amazonaws.com",
                            }
                        )
                    },
                }
            ],
        }
    )


def service_trust(*services: str) -> str:
    return document({"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"})


def bucket_rw(bucket_arn: pulumi.Input[str], key_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    """Read/write/list on one bucket and use of its key: nothing else."""
    return json_output(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListTheBucket",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                    "Resource": [bucket_arn],
                },
                {
                    "Sid": "ObjectsInTheBucket",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"],
                    "Resource": [pulumi.Output.concat(bucket_arn, "/*")],
                },
                {
                    "Sid": "UseTheBucketKey",
                    "Effect": "Allow",
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    "Resource": list(key_arns),
                },
            ],
        }
    )
