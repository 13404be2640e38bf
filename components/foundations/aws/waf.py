"""WAFv2 web ACL for the API's ALB: AWS managed rule groups (common, known bad inputs, SQL injection, IP
reputation) and a per-IP rate limit; blocking in prod, counting in dev; every request logged to an encrypted
log group (WAF requires the `aws-waf-logs-` name prefix)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import WafConfig

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


def _visibility(metric: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


class Waf(pulumi.ComponentResource):
    """Exposes `acl` (its `arn` goes into the ingress annotation)."""

    def __init__(
        self,
        name: str,
        *,
        config: WafConfig,
        logs_key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:Waf", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        block = config.mode == "block"
        rules: list[dict[str, Any]] = [
            {
                "name": group,
                "priority": i,
                "override_action": {"none": {}} if block else {"count": {}},
                "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": group}},
                "visibility_config": _visibility(group),
            }
            for i, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        rules.append(
            {
                "name": "RatePerIp",
                "priority": len(MANAGED_RULE_GROUPS),
                "action": {"block": {}} if block else {"count": {}},
                "statement": {"rate_based_statement": {"limit": config.rate_limit, "aggregate_key_type": "IP"}},
                "visibility_config": _visibility("RatePerIp"),
            }
        )
        self.acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(name),
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"aws-waf-logs-{name}",
            retention_in_days=config.log_retention_days,
            kms_key_id=logs_key_arn,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.acl.arn,
            log_destination_configs=[log_group.arn],
            # Never log credentials.
            redacted_fields=[{"single_header": {"name": "authorization"}}, {"single_header": {"name": "x-api-key"}}],
            opts=child,
        )
        self.register_outputs({"arn": self.acl.arn})
