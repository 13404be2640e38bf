"""`maestro:api`: the Maestro API Deployment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.config.base import EnvironmentDefaults, Model


class ApiConfig(Model):
    """The Maestro API Deployment."""

    min_replicas: int = Field(ge=1)
    """HPA minimum (dev 1, prod 3)."""
    max_replicas: int = Field(ge=1)
    """HPA maximum (dev 2, prod 10)."""
    target_cpu_percent: int = Field(default=70, ge=10, le=95)
    """HPA CPU target."""
    hostname: str | None = None
    """Public host name of the API (the ingress rule host); None accepts any host."""
    oidc_issuer: str | None = None
    """OIDC issuer URL for MAESTRO_OIDC_ISSUER; None disables OIDC (API keys only)."""
    oidc_audience: str | None = None
    """OIDC audience for MAESTRO_OIDC_AUDIENCE."""
    rate_limit_failure_mode: Literal["open", "closed"]
    """What the API does when Redis is unreachable (dev open, prod closed)."""
    workers: int = Field(default=2, ge=1, le=16)
    """Server worker processes per pod."""

    @model_validator(mode="after")
    def _replicas(self) -> ApiConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas: must not exceed maxReplicas")
        return self


# Prod: three replicas at least, and requests refused (not let through unlimited) when Redis is down.
DEFAULTS: EnvironmentDefaults = {
    "dev": {"minReplicas": 1, "maxReplicas": 2, "rateLimitFailureMode": "open"},
    "prod": {"minReplicas": 3, "maxReplicas": 10, "rateLimitFailureMode": "closed"},
}
