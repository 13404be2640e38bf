"""Typed stack configuration with secure per-environment defaults.

Only `__main__.py` reads `pulumi.Config`; it hands the raw values to `load_config`, which merges them over the
defaults of the stack's environment, validates them and returns a frozen `MaestroConfig`. Any error is a
`ConfigError` whose message starts with the offending key, e.g. `maestro:postgres.instances: ...`.

Keys (namespace `maestro:`), each an object unless noted: `environment` (string), `cloud` (string), `postgres`,
`redis`, `api`, `mlflow`, `images`, `waf`, `observability`, `aws`, `kubernetes`, `restore`,
`deletionProtection` (bool). Object fields are camelCase, as in the stack files.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

ROOT = Path(__file__).resolve().parent.parent
PORTS_FILE = ROOT / "config" / "ports.yaml"

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


class ConfigError(ValueError):
    """Invalid stack configuration; the message starts with the config key."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_K8S_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|m)?$")


class Ports(BaseModel):
    """The platform's port map, read from config/ports.yaml (the only place port numbers live)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    api: int
    mlflow: int
    postgres: int
    patroni_rest: int
    redis: int
    https: int
    http: int
    prometheus: int
    alertmanager: int
    grafana: int
    node_exporter: int
    postgres_exporter: int
    redis_exporter: int
    jaeger_ui: int
    otlp_grpc: int
    otlp_http: int


def load_ports(path: Path = PORTS_FILE) -> Ports:
    """Read config/ports.yaml."""
    return Ports.model_validate(yaml.safe_load(path.read_text()))


class PostgresConfig(_Model):
    """The Zalando-operated Patroni cluster."""

    instances: int = Field(ge=1, le=9)
    """Patroni members (dev 1, prod 3)."""
    synchronous: bool
    """Patroni synchronous mode (dev false, prod true); needs at least 2 members."""
    version: Literal["15", "16", "17"] = "16"
    """PostgreSQL major version."""
    volume_size: str = "20Gi"
    """Data volume per member."""
    backup_retention_days: int = Field(ge=1, le=3650)
    """Days of base backups and WAL kept in the backup bucket (dev 7, prod 35)."""
    backup_schedule: str = "0 1 * * *"
    """Cron schedule of WAL-G base backups (UTC)."""
    cpu: str = "500m"
    """CPU request per member (the limit is twice this)."""
    memory: str = "1Gi"
    """Memory request and limit per member."""
    endpoint: Literal["primary", "restore"] = "primary"
    """Which cluster the platform's database URLs (API, MLflow) point at: `primary` (`maestro-pg`) or `restore`
    (the point-in-time clone that `maestro:restore` creates next to it). `maestro restore --stack S --switch`
    sets `restore` once the clone is verified; `restore` needs `maestro:restore`."""

    @field_validator("volume_size", "cpu", "memory")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if not _K8S_QUANTITY.match(v):
            raise ValueError(f"{v!r} is not a Kubernetes quantity (e.g. 500m, 1Gi)")
        return v

    @model_validator(mode="after")
    def _sync_needs_replica(self) -> PostgresConfig:
        if self.synchronous and self.instances < 2:
            raise ValueError("synchronous: synchronous mode needs at least 2 instances")
        return self


class RedisConfig(_Model):
    """Redis: managed on clouds, an in-cluster StatefulSet on plain Kubernetes."""

    version: str = "7.1"
    """ElastiCache engine version (the in-cluster image is pinned in components/kubernetes/redis.py)."""
    node_type: str = "cache.t4g.small"
    """ElastiCache node type (AWS only)."""
    replicas: int = Field(ge=0, le=5)
    """Read replicas of ElastiCache (dev 0, prod 1: with the primary that makes it multi-AZ)."""
    volume_size: str = "2Gi"
    """Volume of the in-cluster Redis."""


class ApiConfig(_Model):
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


class MlflowConfig(_Model):
    """The MLflow tracking server."""

    replicas: int = Field(ge=1, le=10)
    """Deployment replicas (dev 1, prod 2)."""
    workers: int = Field(default=4, ge=1, le=16)
    """gunicorn sync workers per pod (measured: faster than the default uvicorn bridge)."""


class ImagesConfig(_Model):
    """Where the API and MLflow images come from."""

    build: bool
    """Build app/Dockerfile and images/mlflow/Dockerfile and push them to the Foundation's registry
    (true on clouds). False takes them from `registry`."""
    registry: str | None = None
    """Registry prefix to pull from when `build` is false, e.g. `ghcr.io/acme` (pushes go to the cloud registry)."""
    api_tag: str
    """Tag (or `sha256:` digest) of the API image; `latest` is refused."""
    mlflow_tag: str
    """Tag (or digest) of the MLflow image."""

    @field_validator("api_tag", "mlflow_tag")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if v == "latest":
            raise ValueError("images must be pinned by tag or digest, not 'latest'")
        if not (_TAG.match(v) or _DIGEST.match(v)):
            raise ValueError(f"{v!r} is neither a tag nor a sha256 digest")
        return v


class WafConfig(_Model):
    """The WAF in front of the API."""

    mode: Literal["block", "count"]
    """`block` enforces the rules (prod default); `count` only logs (dev default, for tuning)."""
    rate_limit: int = Field(default=2000, ge=100, le=2_000_000_000)
    """Requests per 5 minutes per client IP before the rate-based rule blocks."""
    log_retention_days: int = Field(default=90, ge=1)
    """Days WAF logs are kept."""


class ObservabilityConfig(_Model):
    """kube-prometheus-stack and Jaeger."""

    retention: str = "15d"
    """Prometheus retention."""
    volume_size: str = "50Gi"
    """Prometheus volume."""
    grafana_hostname: str | None = None
    """Host name for Grafana behind the ingress; None keeps Grafana internal (port-forward)."""


class AwsConfig(_Model):
    """The AWS Foundation."""

    vpc_cidr: str = "10.40.0.0/16"
    """VPC CIDR; split into 3 public and 3 private subnets."""
    kubernetes_version: str = "1.33"
    """EKS version."""
    node_instance_types: tuple[str, ...] = ("m7i.large",)
    """Managed node group instance types."""
    node_min: int = Field(ge=1)
    """Node group minimum (dev 2, prod 3: one per AZ)."""
    node_max: int = Field(ge=1)
    """Node group maximum."""
    node_desired: int = Field(ge=1)
    """Node group desired size at creation."""
    private_endpoint_only: bool
    """EKS API reachable only from the VPC (prod true; dev false so a laptop can reach it)."""
    public_access_cidrs: tuple[str, ...] = ()
    """When the endpoint is public, the CIDRs allowed to reach it (empty: refused unless dev)."""
    nat_per_az: bool
    """One NAT gateway per AZ (prod) or one shared (dev, cheaper, not zone-redundant)."""
    dr_region: str | None = None
    """Region the buckets replicate to; None disables replication. Must differ from the stack's region."""
    flow_log_retention_days: int = Field(default=90, ge=1)
    """Days VPC flow logs are kept."""
    certificate_arn: str | None = None
    """ACM certificate for the ALB's HTTPS listener; None serves HTTP only (dev)."""
    alb_controller_chart_version: str = "1.14.0"
    """Helm chart version of the AWS Load Balancer Controller."""

    @model_validator(mode="after")
    def _nodes(self) -> AwsConfig:
        if not self.node_min <= self.node_desired <= self.node_max:
            raise ValueError("nodeDesired: must be between nodeMin and nodeMax")
        return self


class KubernetesConfig(_Model):
    """The plain-Kubernetes Foundation (kind, k3s, on-prem)."""

    context: str | None = None
    """kubeconfig context to deploy to; None uses the current context."""
    storage_class: str = "standard"
    """StorageClass for volumes."""
    ingress_class: str = "nginx"
    """IngressClass of the ingress controller (ingress-nginx with ModSecurity + OWASP CRS)."""


# The live cluster's `postgresql` object; the operator wants cluster names prefixed with the team id.
POSTGRES_CLUSTER = "maestro-pg"
POSTGRES_TEAM = "maestro"
# A DNS-1035 label, short enough that the operator's derived names (`<cluster>-repl`, `<cluster>-config`, our
# `<cluster>-metrics`) stay within the 63 characters of a Service name.
_CLUSTER_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class RestoreConfig(_Model):
    """Disaster recovery: a second Postgres cluster, created as a point-in-time clone of a backed-up one next to
    the live cluster (which stays untouched); `postgres.endpoint` decides which of the two the platform uses."""

    source_cluster: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """Name of the cluster whose backups to restore from (e.g. `maestro-pg`)."""
    source_uid: str = Field(pattern=r"^[0-9a-f-]{36}$")
    """Kubernetes UID of the source `postgresql` object (WAL-G's backup path contains it)."""
    timestamp: str
    """Target time, ISO 8601 with a UTC offset, e.g. `2026-11-27T23:00:00+00:00`."""
    cluster_name: str = Field(default="maestro-pg-restore", pattern=_CLUSTER_NAME, max_length=50)
    """Name of the clone's `postgresql` object: a DNS label starting with `maestro-` (the operator's team
    prefix), different from the live cluster `maestro-pg` and from `sourceCluster`."""

    @field_validator("timestamp")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            parsed = datetime.fromisoformat(v)
        except ValueError as e:
            raise ValueError(f"{v!r} is not an ISO 8601 timestamp") from e
        if parsed.tzinfo is None:
            raise ValueError("the timestamp needs a UTC offset (e.g. +00:00)")
        return v

    @model_validator(mode="after")
    def _next_to_the_live_cluster(self) -> RestoreConfig:
        if not self.cluster_name.startswith(f"{POSTGRES_TEAM}-"):
            raise ValueError(f"clusterName: must start with {POSTGRES_TEAM}- (the operator's team prefix)")
        if self.cluster_name == POSTGRES_CLUSTER:
            raise ValueError(
                f"clusterName: must differ from the live cluster {POSTGRES_CLUSTER} (the clone is created next to it)"
            )
        if self.cluster_name == self.source_cluster:
            raise ValueError("clusterName: must differ from sourceCluster (the clone is created next to its source)")
        return self


class TagsConfig(_Model):
    """Ownership tags/labels put on every taggable resource (AWS default tags, Kubernetes labels)."""

    owner: str = Field(default="maestro-platform", min_length=1)
    """Team that owns the deployment."""
    cost_center: str = Field(default="maestro", min_length=1)
    """Cost center to bill."""


class MaestroConfig(_Model):
    """The whole validated stack configuration."""

    environment: Literal["dev", "prod"]
    """dev or prod; picks the defaults below."""
    cloud: Literal["kubernetes", "aws", "gcp", "azure"]
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
    gcp: Any = None
    """`components.gcp.config.GcpConfig` when cloud is gcp (validated by that module, imported only then)."""
    azure: Any = None
    """`components.azure.config.AzureConfig` when cloud is azure (validated by that module, imported only then)."""
    restore: RestoreConfig | None = None

    @field_validator("gcp", mode="before")
    @classmethod
    def _gcp(cls, v: Any) -> Any:
        if v is None:
            return None
        from components.gcp.config import GcpConfig

        return GcpConfig.model_validate(v)

    @field_validator("azure", mode="before")
    @classmethod
    def _azure(cls, v: Any) -> Any:
        if v is None:
            return None
        from components.azure.config import AzureConfig

        return AzureConfig.model_validate(v)

    @property
    def common_tags(self) -> dict[str, str]:
        """The tags and labels every resource carries."""
        return {"owner": self.tags.owner, "environment": self.environment, "cost-center": self.tags.cost_center}

    @model_validator(mode="after")
    def _consistency(self) -> MaestroConfig:
        if self.cloud == "aws":
            if self.aws is None:
                raise ValueError("aws: required when cloud is aws")
            if not self.region:
                raise ValueError("aws:region: required when cloud is aws")
            if self.aws.dr_region is not None and self.aws.dr_region == self.region:
                raise ValueError("aws.drRegion: must differ from aws:region")
            if not self.aws.private_endpoint_only and self.environment == "prod" and not self.aws.public_access_cidrs:
                raise ValueError("aws.publicAccessCidrs: a public EKS endpoint in prod must be limited to CIDRs")
            if "0.0.0.0/0" in self.aws.public_access_cidrs and self.environment == "prod":
                raise ValueError("aws.publicAccessCidrs: 0.0.0.0/0 is refused in prod")
        for cloud in ("gcp", "azure"):
            if self.cloud == cloud and getattr(self, cloud) is None:
                raise ValueError(f"{cloud}: required when cloud is {cloud}")
            if self.cloud == cloud:
                importlib.import_module(f"components.{cloud}.config").check_environment(
                    getattr(self, cloud), self.environment
                )
                if self.images.build:
                    raise ValueError(f"images.build: the {cloud} Foundation has no registry to push to; set false")
                if not self.images.registry:
                    raise ValueError("images.registry: required when images.build is false")
        if self.cloud == "kubernetes" and self.images.build is False and not self.images.registry:
            raise ValueError("images.registry: required when images.build is false")
        if self.cloud == "kubernetes" and self.images.build:
            raise ValueError("images.build: plain Kubernetes has no registry to push to; set false and a registry")
        if self.postgres.endpoint == "restore" and self.restore is None:
            raise ValueError(
                "postgres.endpoint: 'restore' points the platform at the restored clone, but maestro:restore is not "
                "set (there is no clone); use 'primary' or set maestro:restore"
            )
        if self.environment == "prod" and self.postgres.instances < 3:
            raise ValueError("postgres.instances: prod needs at least 3 members")
        return self


# Secure defaults per environment. Prod: 3 members with synchronous replication, WAF blocking, deletion
# protection, 35-day backups, private EKS endpoint, a NAT per AZ, multi-AZ Redis.
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "deletionProtection": False,
        "postgres": {"instances": 1, "synchronous": False, "backupRetentionDays": 7},
        "redis": {"replicas": 0},
        "api": {"minReplicas": 1, "maxReplicas": 2, "rateLimitFailureMode": "open"},
        "mlflow": {"replicas": 1},
        "waf": {"mode": "count"},
        "observability": {"retention": "3d", "volumeSize": "10Gi"},
        "aws": {"nodeMin": 2, "nodeMax": 4, "nodeDesired": 2, "privateEndpointOnly": False, "natPerAz": False},
        "kubernetes": {},
    },
    "prod": {
        "deletionProtection": True,
        "postgres": {"instances": 3, "synchronous": True, "backupRetentionDays": 35, "cpu": "1", "memory": "4Gi"},
        "redis": {"replicas": 1, "nodeType": "cache.r7g.large"},
        "api": {"minReplicas": 3, "maxReplicas": 10, "rateLimitFailureMode": "closed"},
        "mlflow": {"replicas": 2},
        "waf": {"mode": "block"},
        "observability": {},
        "aws": {"nodeMin": 3, "nodeMax": 9, "nodeDesired": 3, "privateEndpointOnly": True, "natPerAz": True},
        "kubernetes": {},
    },
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


def load_config(raw: Mapping[str, Any], *, region: str | None = None) -> MaestroConfig:
    """Validate the raw `maestro:` config (values already parsed from JSON) over the environment's defaults."""
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"maestro:{unknown[0]}: unknown key (known: {', '.join(TOP_LEVEL_KEYS)})")
    env = raw.get("environment")
    if env not in DEFAULTS:
        raise ConfigError(f"maestro:environment: must be one of {sorted(DEFAULTS)}, got {env!r}")
    merged: dict[str, Any] = {}
    for key, default in DEFAULTS[env].items():
        value = raw.get(key)
        if isinstance(default, dict):
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"maestro:{key}: must be an object")
            merged[key] = {**default, **(value or {})}
        else:
            merged[key] = default if value is None else value
    for key in ("environment", "cloud", "images", "restore", "tags"):
        if key in raw:
            merged[key] = raw[key]
    cloud = merged.get("cloud")
    if cloud in ("gcp", "azure") and cloud in raw:
        # Their per-environment defaults live with their models (components/<cloud>/config.py).
        defaults = importlib.import_module(f"components.{cloud}.config").DEFAULTS[env]
        merged[cloud] = {**defaults, **raw[cloud]} if isinstance(raw[cloud], dict) else raw[cloud]
    if merged.get("cloud") != "aws":
        merged.pop("aws", None)
    if merged.get("cloud") != "kubernetes":
        merged.pop("kubernetes", None)
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
