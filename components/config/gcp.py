"""`maestro:gcp`: the GCP Foundation (VPC, private GKE, Cloud KMS, GCS, Memorystore, Cloud Armor).

`DEFAULTS` holds the per-environment values merged under the stack's own values; the rest have one secure default
for every environment. Validation errors name the field, prefixed with `maestro:gcp.`.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.config.base import EnvironmentDefaults
from components.config.cloud import CloudConfig, check_public_control_plane, cidr, closed_cidrs

# GCS multi-region codes that can hold a configurable dual-region, by the region names' prefix.
DUAL_REGION_CONTINENTS = {"us-": "US", "northamerica-": "US", "europe-": "EU", "asia-": "ASIA"}


class GcpConfig(CloudConfig):
    """The GCP Foundation: VPC, private GKE, KMS, GCS buckets, Memorystore and Cloud Armor."""

    no_registry: ClassVar[str] = "the gcp Foundation has no registry to push to; set false"

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """Project id every resource is created in (set explicitly on each resource, not taken from `gcp:project`)."""
    project_number: str = Field(pattern=r"^[0-9]{6,20}$")
    """Project number: names the Google service agents (GKE, GCS, Memorystore, Compute) granted the KMS keys.
    `gcloud projects describe PROJECT --format='value(projectNumber)'`."""
    region: str = Field(pattern=r"^[a-z]+-[a-z]+[0-9]$")
    """Region of the network, the regional GKE cluster, the key ring, Memorystore and (single-region) buckets."""
    bucket_prefix: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,45}[a-z0-9]$")
    """Prefix of the globally unique bucket names (`<prefix>-backup`, `<prefix>-artifact`); None uses
    `<project>-maestro`."""
    dual_region: tuple[str, str] | None = None
    """Two regions of one continent for a configurable dual-region backup and artifact bucket (e.g.
    `[us-east1, us-east4]`); None keeps the buckets in `region`."""
    turbo_replication: bool = False
    """Turbo replication (15-minute RPO) for the dual-region buckets; needs `dualRegion`."""
    subnet_cidr: str = "10.60.0.0/20"
    """Primary range of the nodes' subnet."""
    pods_cidr: str = "10.64.0.0/14"
    """Secondary range for pods (VPC-native)."""
    services_cidr: str = "10.60.16.0/20"
    """Secondary range for Services."""
    master_cidr: str = "172.16.0.16/28"
    """/28 of the GKE control plane's private endpoint."""
    redis_cidr: str = "10.60.32.0/29"
    """/29 reserved for Memorystore (direct peering); the API's NetworkPolicy allows egress to it."""
    private_endpoint_only: bool
    """GKE control plane reachable only from inside the VPC (prod true). Nodes are always private."""
    master_authorized_cidrs: tuple[str, ...] = ()
    """CIDRs allowed to reach the control plane (besides the VPC); required for a public endpoint in prod."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"]
    """GKE release channel (dev REGULAR, prod STABLE)."""
    machine_type: str = "e2-standard-4"
    """Node machine type."""
    # nodeMin (>= 0), nodeMax and keyRotationDays (default 90) come from CloudConfig. On GKE the node counts are per
    # zone (dev 1-2, prod 1-3 in each of three zones) and every Cloud KMS key rotates after keyRotationDays.
    node_zones: tuple[str, ...] | None = None
    """Zones of the node pool; None lets GKE use the region's default zones (three)."""
    flow_log_sampling: float = Field(ge=0.0, le=1.0)
    """Share of VPC flows logged (dev 0.1, prod 0.5)."""
    redis_memory_gb: int = Field(ge=1, le=300)
    """Memorystore size (dev 1, prod 5)."""
    redis_version: str = "REDIS_7_2"
    """Memorystore engine version."""
    waf_sensitivity: int = Field(default=1, ge=1, le=4)
    """Sensitivity of the preconfigured OWASP rules (Cloud Armor's ModSecurity CRS paranoia level). 1 has the
    fewest false positives for a JSON API; raise it only after tuning with `maestro:waf.mode: count`."""
    noncurrent_version_days: int = Field(default=30, ge=1)
    """Days a replaced (noncurrent) object version is kept before the lifecycle rule deletes it."""

    @field_validator("subnet_cidr", "pods_cidr", "services_cidr", "master_cidr", "redis_cidr")
    @classmethod
    def _is_cidr(cls, v: str) -> str:
        return cidr(v)

    @field_validator("master_authorized_cidrs")
    @classmethod
    def _are_cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return closed_cidrs(v)

    @model_validator(mode="after")
    def _consistent(self) -> GcpConfig:
        if not self.master_cidr.endswith("/28"):
            raise ValueError("masterCidr: the GKE control plane needs a /28")
        if not self.redis_cidr.endswith("/29"):
            raise ValueError("redisCidr: Memorystore STANDARD_HA needs a /29")
        nets = {
            k: ipaddress.ip_network(getattr(self, k))
            for k in ("subnet_cidr", "pods_cidr", "services_cidr", "master_cidr", "redis_cidr")
        }
        names = list(nets)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if nets[a].overlaps(nets[b]):
                    raise ValueError(f"{to_camel(b)}: overlaps {to_camel(a)} ({nets[a]})")
        if self.turbo_replication and self.dual_region is None:
            raise ValueError("turboReplication: needs dualRegion")
        if self.dual_region is not None:
            a, b = self.dual_region
            if a == b:
                raise ValueError("dualRegion: the two regions must differ")
            if dual_region_location(a) is None or dual_region_location(a) != dual_region_location(b):
                raise ValueError("dualRegion: both regions must be on one continent (US, EU or ASIA)")
        return self

    @property
    def buckets_prefix(self) -> str:
        """The bucket name prefix in effect."""
        return self.bucket_prefix or f"{self.project}-maestro"

    @property
    def workload_pool(self) -> str:
        """The project's Workload Identity pool."""
        return f"{self.project}.svc.id.goog"

    def check(self, environment: str, region: str | None) -> None:
        check_public_control_plane(
            environment,
            private=self.private_endpoint_only,
            allowed=self.master_authorized_cidrs,
            key="gcp.masterAuthorizedCidrs",
            endpoint="GKE endpoint",
        )


def dual_region_location(region: str) -> str | None:
    """The multi-region code a configurable dual-region in `region` belongs to (None: not supported)."""
    return next((code for prefix, code in DUAL_REGION_CONTINENTS.items() if region.startswith(prefix)), None)


# Secure defaults per environment, merged under the stack's `maestro:gcp` object.
DEFAULTS: EnvironmentDefaults = {
    "dev": {
        "privateEndpointOnly": False,
        "releaseChannel": "REGULAR",
        "nodeMin": 1,
        "nodeMax": 2,
        "flowLogSampling": 0.1,
        "redisMemoryGb": 1,
    },
    "prod": {
        "privateEndpointOnly": True,
        "releaseChannel": "STABLE",
        "nodeMin": 1,
        "nodeMax": 3,
        "flowLogSampling": 0.5,
        "redisMemoryGb": 5,
    },
}
