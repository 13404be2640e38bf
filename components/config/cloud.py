"""What the GCP and Azure configs share: an autoscaled node pool, rotating keys, CIDR checks, and the rule that a
public control plane in prod is limited to CIDRs. Each cloud narrows a bound where its service does."""

from __future__ import annotations

import ipaddress

from pydantic import Field, model_validator

from components.config.base import TargetConfig

OPEN_TO_ALL = "0.0.0.0/0"


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


class CloudConfig(TargetConfig):
    """Settings every managed-Kubernetes cloud Foundation has besides AWS's."""

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
