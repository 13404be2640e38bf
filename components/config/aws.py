"""`maestro:aws`: the AWS Foundation (VPC, EKS, KMS, S3, ElastiCache, WAFv2, ECR)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from components.config.base import EnvironmentDefaults, TargetConfig


class AwsConfig(TargetConfig):
    """The AWS Foundation."""

    pushes_images: ClassVar[bool] = True

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

    def check(self, environment: str, region: str | None) -> None:
        if not region:
            raise ValueError("aws:region: required when cloud is aws")
        if self.dr_region is not None and self.dr_region == region:
            raise ValueError("aws.drRegion: must differ from aws:region")
        if not self.private_endpoint_only and environment == "prod" and not self.public_access_cidrs:
            raise ValueError("aws.publicAccessCidrs: a public EKS endpoint in prod must be limited to CIDRs")
        if "0.0.0.0/0" in self.public_access_cidrs and environment == "prod":
            raise ValueError("aws.publicAccessCidrs: 0.0.0.0/0 is refused in prod")


# Prod: a private EKS endpoint, a node per AZ and a NAT gateway per AZ.
DEFAULTS: EnvironmentDefaults = {
    "dev": {"nodeMin": 2, "nodeMax": 4, "nodeDesired": 2, "privateEndpointOnly": False, "natPerAz": False},
    "prod": {"nodeMin": 3, "nodeMax": 9, "nodeDesired": 3, "privateEndpointOnly": True, "natPerAz": True},
}
