"""What the GCP and Azure Foundations take alike, so each cloud's module holds only what differs.

- `CloudModel` and `CloudConfig`: the base of `GcpConfig` and `AzureConfig` (camelCase stack fields, an autoscaled
  node pool, rotating keys, CIDR checks, the rule that a public control plane in prod is limited to CIDRs).
- `CloudFoundationArgs`: the values every cloud Foundation receives from the stack config.
- `CloudFoundation`: the component base that validates those and holds the options every child uses.
- `foundation_args`: builds a cloud's args from a validated `MaestroConfig` (what `build_<cloud>_foundation` calls).

AWS predates this module and keeps its own shape (components/aws/).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components.config import MaestroConfig, Ports, PostgresConfig, WafConfig
from components.foundation import IdentityRequest

BUCKET_PURPOSES = ("backup", "artifact")
OPEN_TO_ALL = "0.0.0.0/0"


class CloudModel(BaseModel):
    """Stack-file objects: camelCase fields, unknown fields refused, values frozen."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def cidr(v: str) -> str:
    """`v` if it is a CIDR block (host bits clear), else a ValueError naming it."""
    try:
        ipaddress.ip_network(v, strict=True)
    except ValueError as e:
        raise ValueError(f"{v!r} is not a CIDR block") from e
    return v


def closed_cidrs(v: tuple[str, ...]) -> tuple[str, ...]:
    """An allow-list of CIDRs in front of an endpoint: each a CIDR block, and never the whole internet."""
    if OPEN_TO_ALL in v:
        raise ValueError(f"{OPEN_TO_ALL} opens the endpoint to the internet")
    return tuple(cidr(c) for c in v)


class CloudConfig(CloudModel):
    """Settings every managed-Kubernetes cloud Foundation has; a cloud narrows a bound where its service does."""

    node_min: int = Field(ge=0)
    """Autoscaler minimum nodes of the node pool."""
    node_max: int = Field(ge=1)
    """Autoscaler maximum nodes of the node pool."""
    key_rotation_days: int = Field(default=90, ge=1, le=365)
    """Rotation period of every customer-managed key."""

    @model_validator(mode="after")
    def _node_range(self) -> CloudConfig:
        if self.node_min > self.node_max:
            raise ValueError("nodeMin: must not exceed nodeMax")
        return self


def check_public_control_plane(
    environment: str, *, private: bool, allowed: tuple[str, ...], key: str, endpoint: str
) -> None:
    """Prod may expose a cluster's control plane publicly only to listed CIDRs; `key` is the full key below
    `maestro:` that lists them, `endpoint` names the endpoint in the message."""
    if environment == "prod" and not private and not allowed:
        raise ValueError(f"{key}: a public {endpoint} in prod must be limited to CIDRs")


C = TypeVar("C", bound=CloudConfig)


@dataclass(frozen=True)
class CloudFoundationArgs(Generic[C]):
    """What a cloud Foundation receives; validated when constructed."""

    config: C
    """The cloud's validated settings (`maestro:<cloud>`)."""
    environment: Literal["dev", "prod"]
    """dev or prod: picks retention, immutability, zone redundancy and sizes."""
    deletion_protection: bool
    """Protect the cluster, keys, buckets and managed Redis from deletion."""
    postgres: PostgresConfig
    """Backup retention days: the backup bucket's retention or immutability period in prod."""
    waf: WafConfig
    """WAF mode (`block` enforces, `count` only logs) and the per-client rate limit."""
    ports: Ports
    """The port map (the public edge's HTTP and HTTPS ports)."""
    identities: Mapping[str, IdentityRequest]
    """The Kubernetes service accounts that need a bucket, by key."""
    tags: Mapping[str, str]
    """owner / environment / cost-center (`MaestroConfig.common_tags`), as tags or labels on every resource that
    takes them."""

    def __post_init__(self) -> None:
        unknown = sorted({r.bucket for r in self.identities.values()} - set(BUCKET_PURPOSES))
        if unknown:
            raise ValueError(f"identities: unknown bucket purpose {unknown[0]!r}")

    @property
    def managed_tags(self) -> dict[str, str]:
        """`tags` plus the marker that Pulumi manages the resource."""
        return {**self.tags, "managed-by": "pulumi"}


A = TypeVar("A", bound=CloudFoundationArgs[Any])


class CloudFoundation(pulumi.ComponentResource, Generic[A]):
    """Base of the GCP and Azure Foundations: registers the component and the options its children use."""

    def __init__(self, type_token: str, name: str, args: A, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(type_token, name, None, opts)
        self._base_name, self._args = name, args
        self._tags = args.managed_tags
        self._child = pulumi.ResourceOptions(parent=self)
        self._protected = pulumi.ResourceOptions(parent=self, protect=args.deletion_protection)


def foundation_args(
    args_type: type[A],
    cloud: Literal["gcp", "azure"],
    config: MaestroConfig,
    ports: Ports,
    identities: Mapping[str, IdentityRequest],
    **extra: Any,
) -> A:
    """`args_type` for a validated stack config whose cloud is `cloud`; `extra` are the cloud's own fields."""
    cloud_config = getattr(config, cloud)
    if cloud_config is None:
        raise ValueError(f"maestro:{cloud}: required when cloud is {cloud}")
    return args_type(
        config=cloud_config,
        environment=config.environment,
        deletion_protection=config.deletion_protection,
        postgres=config.postgres,
        waf=config.waf,
        ports=ports,
        identities=identities,
        tags=config.common_tags,
        **extra,
    )
