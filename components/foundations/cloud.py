"""What the GCP and Azure Foundations share, so each cloud's folder holds only what differs.

- `CloudFoundationArgs`: the values every such Foundation receives from the stack config, validated.
- `foundation_args`: builds a cloud's args from a validated `MaestroConfig`.
- `Scope`: where the cloud's resources go (under the `Foundation` component, named from its name) and the tags and
  options they take; every concern module of gcp/ and azure/ creates its resources through one.

AWS takes its values straight from `MaestroConfig` and hangs its resources under sub-components of its own
(components/foundations/aws/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import pulumi

from components.config import Ports, PostgresConfig, WafConfig
from components.config.cloud import CloudConfig
from components.foundations.contract import BUCKET_PURPOSES, Foundation, FoundationArgs, IdentityRequest, required

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


def foundation_args(args_type: type[A], cloud: Literal["gcp", "azure"], args: FoundationArgs, **extra: Any) -> A:
    """`args_type` for a Foundation's args whose stack's cloud is `cloud`; `extra` are the cloud's own fields."""
    config = args.config
    return args_type(
        config=required(getattr(config, cloud), cloud),
        environment=config.environment,
        deletion_protection=config.deletion_protection,
        postgres=config.postgres,
        waf=config.waf,
        ports=args.ports,
        identities=args.identities,
        tags=config.common_tags,
        **extra,
    )


@dataclass(frozen=True)
class Scope(Generic[A]):
    """Where a cloud Foundation's resources go, and what each of them takes."""

    parent: Foundation
    """The `maestro:<cloud>:Foundation` component: every resource's parent."""
    name: str
    """The component's name: every resource is named `f"{name}-<suffix>"`."""
    args: A
    """The Foundation's validated args."""

    @property
    def tags(self) -> dict[str, str]:
        """The tags or labels of every resource that takes them (`CloudFoundationArgs.managed_tags`)."""
        return self.args.managed_tags

    @property
    def child(self) -> pulumi.ResourceOptions:
        """A plain child of the Foundation."""
        return pulumi.ResourceOptions(parent=self.parent)

    @property
    def protected(self) -> pulumi.ResourceOptions:
        """A child that is protected from deletion when the stack asks for it (`deletionProtection`)."""
        return pulumi.ResourceOptions(parent=self.parent, protect=self.args.deletion_protection)

    def opts(self, **options: Any) -> pulumi.ResourceOptions:
        """A child of the Foundation with more `options` (depends_on, protect, provider, ...)."""
        return pulumi.ResourceOptions(parent=self.parent, **options)
