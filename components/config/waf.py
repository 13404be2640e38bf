"""`maestro:waf`: the WAF in front of the API (each Foundation attaches its own: WAFv2, Cloud Armor, Azure WAF,
ModSecurity + CRS)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.config.base import EnvironmentDefaults, Model


class WafConfig(Model):
    """The WAF in front of the API."""

    mode: Literal["block", "count"]
    """`block` enforces the rules (prod default); `count` only logs (dev default, for tuning)."""
    rate_limit: int = Field(default=2000, ge=100, le=2_000_000_000)
    """Requests per 5 minutes per client IP before the rate-based rule blocks."""
    log_retention_days: int = Field(default=90, ge=1)
    """Days WAF logs are kept."""


DEFAULTS: EnvironmentDefaults = {"dev": {"mode": "count"}, "prod": {"mode": "block"}}
