"""What the GCP and Azure Foundations take alike, so each cloud's module holds only what differs.

- `CloudModel` and `CloudConfig`: the base of `GcpConfig` and `AzureConfig` (camelCase stack fields, an autoscaled
  node pool, rotating keys, CIDR checks, the rule that a public control plane in prod is limited to CIDRs).
- `CloudFoundationArgs`: the values every cloud Foundation receives from the stack config.
- `CloudFoundation`: the component base that validates those and holds the options every child uses.
- `foundation_args`: builds a cloud's args from a validated `MaestroConfig` (what `build_<cloud>_foundation` calls).

AWS predates this module and keeps its own shape (components/aws/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import pulumi

from components.config import MaestroConfig, Ports, PostgresConfig, WafConfig
from components.config.cloud import CloudConfig
from components.foundation import IdentityRequest

BUCKET_PURPOSES = ("backup", "artifact")


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
