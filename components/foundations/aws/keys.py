"""KMS keys, one per purpose, all with yearly automatic rotation."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.foundations.aws.policies import json_output

PURPOSES = ("cluster", "storage", "redis", "logs")


class Keys(pulumi.ComponentResource):
    """Exposes `keys` by purpose."""

    def __init__(
        self,
        name: str,
        *,
        account_id: pulumi.Input[str],
        region: str,
        deletion_window_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:Keys", name, None, opts)
        self.keys: dict[str, aws.kms.Key] = {}
        for purpose in PURPOSES:
            statements: list[dict[str, object]] = [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ]
            if purpose == "logs":
                # CloudWatch Logs encrypts the flow-log and WAF log groups with this key.
                statements.append(
                    {
                        "Sid": "CloudWatchLogsUse",
                        "Effect": "Allow",
                        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                        "Action": [
                            "kms:Encrypt*",
                            "kms:Decrypt*",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:Describe*",
                        ],
                        "Resource": "*",
                    }
                )
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"Maestro {purpose} key",
                enable_key_rotation=True,
                deletion_window_in_days=deletion_window_days,
                policy=json_output({"Version": "2012-10-17", "Statement": statements}),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=f"alias/{name}-{purpose}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.keys[purpose] = key
        self.register_outputs({p: k.arn for p, k in self.keys.items()})
