"""The whole stack configuration: `MaestroConfig`, and `load_config`, which merges a stack's raw `maestro:` values
over the defaults of its environment and validates them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError, model_validator

from components.config import api, aws, azure, gcp, kubernetes, mlflow, observability, postgres, redis, waf
from components.config.api import ApiConfig
from components.config.aws import AwsConfig
from components.config.azure import AzureConfig
from components.config.base import ConfigError, EnvironmentDefaults, Model, TargetConfig
from components.config.gcp import GcpConfig
from components.config.images import ImagesConfig
from components.config.kubernetes import KubernetesConfig
from components.config.mlflow import MlflowConfig
from components.config.observability import ObservabilityConfig
from components.config.postgres import PostgresConfig
from components.config.redis import RedisConfig
from components.config.restore import RestoreConfig
from components.config.tags import TagsConfig
from components.config.waf import WafConfig

Cloud = Literal["kubernetes", "aws", "gcp", "azure"]

# The keys __main__.py reads; anything else under `maestro:` is refused (a typo must not silently use a default).
TOP_LEVEL_KEYS = (
    "environment",
    "tags",
    "cloud",
    "deletionProtection",
    "postgres",
    "redis",
    "api",
    "mlflow",
    "images",
    "waf",
    "observability",
    "aws",
    "kubernetes",
    "gcp",
    "azure",
    "restore",
)
ENVIRONMENTS = ("dev", "prod")


class MaestroConfig(Model):
    """The whole validated stack configuration."""

    environment: Literal["dev", "prod"]
    """dev or prod; picks the defaults below."""
    cloud: Cloud
    """Which Foundation builds the cluster."""
    region: str | None = None
    """The cloud region (from `aws:region`), None on plain Kubernetes."""
    deletion_protection: bool
    """Protect stateful resources from deletion (prod true)."""
    tags: TagsConfig = TagsConfig()
    """owner / cost-center; `environment` is added from the field above."""
    postgres: PostgresConfig
    redis: RedisConfig
    api: ApiConfig
    mlflow: MlflowConfig
    images: ImagesConfig
    waf: WafConfig
    observability: ObservabilityConfig
    aws: AwsConfig | None = None
    kubernetes: KubernetesConfig | None = None
    gcp: GcpConfig | None = None
    azure: AzureConfig | None = None
    restore: RestoreConfig | None = None

    @property
    def common_tags(self) -> dict[str, str]:
        """The tags and labels every resource carries."""
        return {"owner": self.tags.owner, "environment": self.environment, "cost-center": self.tags.cost_center}

    @property
    def target(self) -> TargetConfig | None:
        """The object of the stack's cloud (`aws`, `gcp`, `azure` or `kubernetes`)."""
        target: TargetConfig | None = getattr(self, self.cloud)
        return target

    @model_validator(mode="after")
    def _consistency(self) -> MaestroConfig:
        target = self.target
        if target is None:
            raise ValueError(f"{self.cloud}: required when cloud is {self.cloud}")
        target.check(self.environment, self.region)
        if self.images.build and not target.pushes_images:
            raise ValueError(f"images.build: {target.no_registry}")
        if not self.images.build and not self.images.registry:
            raise ValueError("images.registry: required when images.build is false")
        if self.postgres.endpoint == "restore" and self.restore is None:
            raise ValueError(
                "postgres.endpoint: 'restore' points the platform at the restored clone, but maestro:restore is not "
                "set (there is no clone); use 'primary' or set maestro:restore"
            )
        if self.environment == "prod" and self.postgres.instances < 3:
            raise ValueError("postgres.instances: prod needs at least 3 members")
        return self


@dataclass(frozen=True)
class Target:
    """How `load_config` fills one target's object."""

    defaults: EnvironmentDefaults
    """Its per-environment defaults."""
    optional: bool
    """Whether a stack may leave the object out (then it is the defaults alone); GCP and Azure name a project or
    subscription, so their object is required."""


# Secure defaults per environment, kept with each model (prod: 3 Postgres members with synchronous replication,
# WAF blocking, deletion protection, 35-day backups, a private control plane, zone redundancy).
DEFAULTS: dict[str, EnvironmentDefaults] = {
    "postgres": postgres.DEFAULTS,
    "redis": redis.DEFAULTS,
    "api": api.DEFAULTS,
    "mlflow": mlflow.DEFAULTS,
    "waf": waf.DEFAULTS,
    "observability": observability.DEFAULTS,
}
DELETION_PROTECTION = {"dev": False, "prod": True}
TARGETS: dict[Cloud, Target] = {
    "aws": Target(aws.DEFAULTS, optional=True),
    "gcp": Target(gcp.DEFAULTS, optional=False),
    "azure": Target(azure.DEFAULTS, optional=False),
    "kubernetes": Target(kubernetes.DEFAULTS, optional=True),
}


def _key(loc: tuple[int | str, ...], message: str) -> str:
    """`maestro:<path>: <message>`; a validator may name a more precise key at the start of its message."""
    path = [str(p) for p in loc]
    head, sep, rest = message.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z]+:[A-Za-z.]+", head):  # another namespace, e.g. aws:region
        return message
    if sep and re.fullmatch(r"[A-Za-z.]+", head):
        path += head.split(".")
        message = rest
    return f"maestro:{'.'.join(path)}: {message}"


def _object(key: str, value: Any) -> dict[str, Any]:
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"maestro:{key}: must be an object")
    return value or {}


def load_config(raw: Mapping[str, Any], *, region: str | None = None) -> MaestroConfig:
    """Validate the raw `maestro:` config (values already parsed from JSON) over the environment's defaults."""
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"maestro:{unknown[0]}: unknown key (known: {', '.join(TOP_LEVEL_KEYS)})")
    env = raw.get("environment")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"maestro:environment: must be one of {sorted(ENVIRONMENTS)}, got {env!r}")
    protect = raw.get("deletionProtection")
    merged: dict[str, Any] = {"deletionProtection": DELETION_PROTECTION[env] if protect is None else protect}
    for key, defaults in DEFAULTS.items():
        merged[key] = {**defaults[env], **_object(key, raw.get(key))}
    for key in ("environment", "cloud", "images", "restore", "tags"):
        if key in raw:
            merged[key] = raw[key]
    # Only the stack's own target object is kept; any other given must still be an object.
    for name, target in TARGETS.items():
        value = _object(name, raw.get(name))
        if name == merged.get("cloud") and (raw.get(name) is not None or target.optional):
            merged[name] = {**target.defaults[env], **value}
    merged["region"] = region
    try:
        return MaestroConfig.model_validate(merged)
    except ValidationError as e:
        first = e.errors()[0]
        loc = tuple(first["loc"])
        if loc and loc[0] == "region":
            raise ConfigError(f"aws:region: {first['msg']}") from None
        raise ConfigError(_key(loc, str(first["msg"]).removeprefix("Value error, "))) from None


def load_restore(raw: Mapping[str, Any]) -> RestoreConfig:
    """Validate a `maestro:restore` value alone (for the restore command, before it writes one)."""
    try:
        return RestoreConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        raise ConfigError(_key(("restore", *first["loc"]), str(first["msg"]).removeprefix("Value error, "))) from None
