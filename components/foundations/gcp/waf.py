"""Cloud Armor, the API's WAF: the preconfigured OWASP rule sets (ModSecurity CRS 3.3 in Cloud Armor) plus a
per-client rate limit. The rules are pure functions, so the rule set can be tested without Pulumi."""

from __future__ import annotations

from typing import Any

import pulumi_gcp as gcp

from components.foundations.cloud import Scope
from components.foundations.gcp.args import GcpFoundationArgs

# The preconfigured OWASP rule sets, in evaluation order. `v33-stable` is CRS 3.3.
OWASP_RULE_SETS = (
    "sqli-v33-stable",
    "xss-v33-stable",
    "lfi-v33-stable",
    "rfi-v33-stable",
    "rce-v33-stable",
    "scannerdetection-v33-stable",
    "protocolattack-v33-stable",
    "methodenforcement-v33-stable",
)
# The API is a JSON REST API: CRS's method enforcement only allows GET, HEAD, POST and OPTIONS, so the methods
# the API serves are exempted explicitly (nginx + ModSecurity on hosts widens the same: docs/architecture.md).
API_EXTRA_METHODS = ("PUT", "PATCH", "DELETE")
OWASP_FIRST_PRIORITY = 1000
RATE_LIMIT_PRIORITY = 2000
DEFAULT_RULE_PRIORITY = 2147483647
RATE_LIMIT_INTERVAL_SEC = 300  # maestro:waf.rateLimit is per 5 minutes, as on AWS


def owasp_expression(rule_set: str, sensitivity: int) -> str:
    """The CEL expression that evaluates one preconfigured rule set at `sensitivity`."""
    expr = f"evaluatePreconfiguredWaf('{rule_set}', {{'sensitivity': {sensitivity}}})"
    if rule_set.startswith("methodenforcement-"):
        allowed = " || ".join(f"request.method == '{m}'" for m in API_EXTRA_METHODS)
        expr = f"{expr} && !({allowed})"
    return expr


def armor_rules(*, sensitivity: int, block: bool, rate_limit: int) -> list[dict[str, Any]]:
    """The security policy's rules. `block` false puts every rule in preview (logged, not enforced)."""
    preview = not block
    rules: list[dict[str, Any]] = [
        {
            "priority": OWASP_FIRST_PRIORITY + i,
            "description": f"OWASP CRS {rule_set} at sensitivity {sensitivity}",
            "action": "deny(403)",
            "preview": preview,
            "match": {"expr": {"expression": owasp_expression(rule_set, sensitivity)}},
        }
        for i, rule_set in enumerate(OWASP_RULE_SETS)
    ]
    rules.append(
        {
            "priority": RATE_LIMIT_PRIORITY,
            "description": f"At most {rate_limit} requests per {RATE_LIMIT_INTERVAL_SEC} s per client IP",
            "action": "throttle",
            "preview": preview,
            "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}},
            "rate_limit_options": {
                "conform_action": "allow",
                "exceed_action": "deny(429)",
                "enforce_on_key": "IP",
                "rate_limit_threshold": {"count": rate_limit, "interval_sec": RATE_LIMIT_INTERVAL_SEC},
            },
        }
    )
    rules.append(
        {
            "priority": DEFAULT_RULE_PRIORITY,
            "description": "Everything the rules above did not deny",
            "action": "allow",
            "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}},
        }
    )
    return rules


def armor_policy(scope: Scope[GcpFoundationArgs]) -> gcp.compute.SecurityPolicy:
    """The security policy the edge's BackendConfig attaches; `maestro:waf.mode: count` previews every rule."""
    cfg, args = scope.args.config, scope.args
    return gcp.compute.SecurityPolicy(
        f"{scope.name}-armor",
        project=cfg.project,
        name=f"maestro-{args.environment}-api",
        description="Maestro API: OWASP CRS 3.3 preconfigured rules and a per-IP rate limit",
        type="CLOUD_ARMOR",
        rules=armor_rules(
            sensitivity=cfg.waf_sensitivity, block=args.waf.mode == "block", rate_limit=args.waf.rate_limit
        ),
        # Without JSON parsing Cloud Armor inspects a JSON body as one opaque string.
        advanced_options_config={
            "json_parsing": "STANDARD",
            "log_level": "VERBOSE",
            "request_body_inspection_size": "64KB",
        },
        adaptive_protection_config={"layer7_ddos_defense_config": {"enable": True}},
        opts=scope.child,
    )
