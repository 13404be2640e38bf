"""The Azure WAF policy, the API's WAF: Microsoft's default rule set (OWASP CRS based), the bot manager rule set and
a per-client rate limit. The rules are pure data, so they can be tested without Pulumi."""

from __future__ import annotations

from typing import Any

import pulumi_azure_native as azure

from components.foundations.azure.scope import AzureScope

DEFAULT_RULE_SET = ("Microsoft_DefaultRuleSet", "2.1")
BOT_RULE_SET = ("Microsoft_BotManagerRuleSet", "1.1")
RATE_LIMIT_PRIORITY = 10
# The platform's WAF body limit (nginx + ModSecurity on hosts uses the same 128 KiB; docs/architecture.md).
MAX_BODY_KB = 128


def managed_rules() -> dict[str, Any]:
    """The managed rule sets (both at their default actions)."""
    return {
        "managed_rule_sets": [
            {"rule_set_type": DEFAULT_RULE_SET[0], "rule_set_version": DEFAULT_RULE_SET[1]},
            {"rule_set_type": BOT_RULE_SET[0], "rule_set_version": BOT_RULE_SET[1]},
        ]
    }


def policy_settings(*, block: bool) -> dict[str, Any]:
    """Prevention blocks; Detection only logs (dev default, to tune rules before blocking)."""
    return {
        "state": "Enabled",
        "mode": "Prevention" if block else "Detection",
        "request_body_check": True,
        "request_body_enforcement": True,
        "request_body_inspect_limit_in_kb": MAX_BODY_KB,
        "max_request_body_size_in_kb": MAX_BODY_KB,
        "file_upload_limit_in_mb": 100,
    }


def custom_rules(*, rate_limit: int) -> list[dict[str, Any]]:
    """A rate limit per client address over five minutes (the same window as the other clouds)."""
    return [
        {
            "name": "RateLimitPerClient",
            "priority": RATE_LIMIT_PRIORITY,
            "rule_type": "RateLimitRule",
            "rate_limit_duration": "FiveMins",
            "rate_limit_threshold": rate_limit,
            "group_by_user_session": [{"group_by_variables": [{"variable_name": "ClientAddr"}]}],
            # "Not in 255.255.255.255/32" matches every client: the rule counts all requests.
            "match_conditions": [
                {
                    "match_variables": [{"variable_name": "RemoteAddr"}],
                    "operator": "IPMatch",
                    "negation_conditon": True,
                    "match_values": ["255.255.255.255/32"],
                }
            ],
            "action": "Block",
            "state": "Enabled",
        }
    ]


def waf_policy(scope: AzureScope) -> azure.network.WebApplicationFirewallPolicy:
    """The policy the Application Gateway enforces and the API's Ingress names; `maestro:waf.mode: count` runs it
    in Detection mode."""
    args = scope.args
    return azure.network.WebApplicationFirewallPolicy(
        f"{scope.name}-waf",
        resource_group_name=scope.rg,
        policy_name=f"{scope.base}-waf",
        location=args.config.location,
        managed_rules=managed_rules(),
        policy_settings=policy_settings(block=args.waf.mode == "block"),
        custom_rules=custom_rules(rate_limit=args.waf.rate_limit),
        tags=scope.tags,
        opts=scope.child,
    )
