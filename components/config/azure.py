"""`maestro:azure`: the Azure Foundation (VNet, private AKS, Key Vault, storage, Azure Cache, WAF + App Gateway).

`DEFAULTS` holds the per-environment values merged under the stack's own values. Validation errors name the field,
prefixed with `maestro:azure.`.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.config.base import EnvironmentDefaults
from components.config.cloud import CloudConfig, check_public_control_plane, cidr, closed_cidrs

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class AzureConfig(CloudConfig):
    """The Azure Foundation: resource group, VNet, private AKS, Key Vault, storage, Azure Cache, WAF + App Gateway."""

    no_registry: ClassVar[str] = "the azure Foundation has no registry to push to; set false"

    subscription_id: str = Field(pattern=_GUID)
    """Subscription the resources live in (role definition ids and the App Gateway's own sub-resource ids name
    it). Not a secret."""
    tenant_id: str = Field(pattern=_GUID)
    """Entra ID tenant of the Key Vault. Not a secret."""
    location: str = Field(pattern=r"^[a-z0-9]+$")
    """Azure region, e.g. `westeurope`; every resource is created there."""
    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9]{2,11}$")
    """Lower-case prefix of globally unique names (storage accounts `<prefix><env>backup`, Key Vault, Redis)."""
    vnet_cidr: str = "10.70.0.0/16"
    """Address space of the VNet."""
    nodes_subnet_cidr: str = "10.70.0.0/20"
    """Subnet of the AKS nodes (Azure CNI overlay: pods take addresses from `podCidr`, not from here)."""
    appgw_subnet_cidr: str = "10.70.16.0/24"
    """Subnet dedicated to the Application Gateway (the API's public entry)."""
    endpoints_subnet_cidr: str = "10.70.17.0/24"
    """Subnet of the private endpoints (storage, Redis); the API's NetworkPolicy allows egress to it."""
    apiserver_subnet_cidr: str = "10.70.18.0/28"
    """Subnet delegated to AKS for API server VNet integration (the control plane reaches the private Key Vault
    for KMS from here)."""
    pod_cidr: str = "10.244.0.0/16"
    """Overlay range of pod addresses; must not overlap the VNet."""
    service_cidr: str = "10.245.0.0/16"
    """Range of Kubernetes Services; must not overlap the VNet or `podCidr`."""
    kubernetes_version: str = "1.33"
    """AKS Kubernetes version."""
    private_cluster: bool
    """API server reachable only through a private endpoint in the VNet (prod true)."""
    authorized_ip_ranges: tuple[str, ...] = ()
    """CIDRs allowed to reach a public API server; required for a public API server in prod."""
    node_vm_size: str = "Standard_D4s_v5"
    """VM size of the node pool."""
    node_min: int = Field(ge=1)
    """Autoscaler minimum nodes (dev 2, prod 3); the AKS autoscaler needs at least one (nodeMax: CloudConfig)."""
    zones: tuple[Literal["1", "2", "3"], ...]
    """Availability zones of nodes, App Gateway and Redis (dev none, prod all three)."""
    sku_tier: Literal["Free", "Standard", "Premium"]
    """AKS control-plane tier (dev Free, prod Standard: the financially backed SLA)."""
    key_rotation_days: int = Field(default=90, ge=7, le=365)
    """Key Vault keys rotate automatically after this many days (a Key Vault rotation policy needs at least 7)."""
    key_vault_allowed_cidrs: tuple[str, ...] = ()
    """CIDRs (the operators' or CI's egress) allowed through the Key Vault firewall, which denies everything
    else except trusted Azure services."""
    geo_redundant: bool = False
    """Geo-zone-redundant storage (GZRS) for the backup and artifact accounts; false keeps zone-redundant (ZRS)."""
    soft_delete_days: int = Field(ge=1, le=365)
    """Days deleted blobs, versions and containers can be recovered (dev 7, prod 30)."""
    redis_sku: Literal["Standard", "Premium"]
    """Azure Cache for Redis tier (dev Standard C1, prod Premium P1 with zones)."""
    redis_capacity: int = Field(ge=0, le=6)
    """Cache size within the tier (C0..C6 / P1..P5)."""
    appgw_min_capacity: int = Field(ge=0, le=125)
    """Application Gateway autoscale minimum (dev 0, prod 2)."""
    appgw_max_capacity: int = Field(default=10, ge=2, le=125)
    """Application Gateway autoscale maximum."""
    log_retention_days: int = Field(default=90, ge=30, le=730)
    """Days the Log Analytics workspace keeps WAF, cluster and storage access logs, and days the flow log account
    keeps the VNet flow logs."""
    tls_certificate_name: str | None = Field(default=None, pattern=r"^[0-9a-zA-Z-]{1,127}$")
    """Name of the API's TLS certificate in the Foundation's Key Vault (`<namePrefix>-<env>-kv`). The Application
    Gateway serves it (a versionless reference: renewed versions are picked up) and redirects HTTP to HTTPS.
    Required in prod; unset (dev only) serves plain HTTP. It must be in the vault before the gateway is created
    (docs/clouds-gcp-azure.md). A name, not a secret: the key never leaves Key Vault."""
    network_watcher_name: str | None = None
    """Network Watcher that owns the VNet flow log; None uses the one Azure creates per region,
    `NetworkWatcher_<location>`."""
    network_watcher_resource_group: str = "NetworkWatcherRG"
    """Resource group of that Network Watcher (Azure's automatic one lives in `NetworkWatcherRG`)."""

    @field_validator(
        "vnet_cidr",
        "nodes_subnet_cidr",
        "appgw_subnet_cidr",
        "endpoints_subnet_cidr",
        "apiserver_subnet_cidr",
        "pod_cidr",
        "service_cidr",
    )
    @classmethod
    def _is_cidr(cls, v: str) -> str:
        return cidr(v)

    @field_validator("authorized_ip_ranges", "key_vault_allowed_cidrs")
    @classmethod
    def _are_cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return closed_cidrs(v)

    @model_validator(mode="after")
    def _consistent(self) -> AzureConfig:
        vnet = ipaddress.ip_network(self.vnet_cidr)
        subnets = {
            k: ipaddress.ip_network(getattr(self, k))
            for k in ("nodes_subnet_cidr", "appgw_subnet_cidr", "endpoints_subnet_cidr")
        }
        for key, net in subnets.items():
            if not net.subnet_of(vnet):  # type: ignore[arg-type]
                raise ValueError(f"{to_camel(key)}: {net} is not inside vnetCidr {vnet}")
        names = list(subnets)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if subnets[a].overlaps(subnets[b]):
                    raise ValueError(f"{to_camel(b)}: overlaps {to_camel(a)}")
        pods, services = ipaddress.ip_network(self.pod_cidr), ipaddress.ip_network(self.service_cidr)
        if pods.overlaps(vnet):
            raise ValueError("podCidr: must not overlap vnetCidr")
        if services.overlaps(vnet) or services.overlaps(pods):
            raise ValueError("serviceCidr: must not overlap vnetCidr or podCidr")
        if self.appgw_min_capacity > self.appgw_max_capacity:
            raise ValueError("appgwMinCapacity: must not exceed appgwMaxCapacity")
        if self.redis_sku == "Premium" and self.redis_capacity < 1:
            raise ValueError("redisCapacity: Premium starts at 1 (P1)")
        if self.zones and self.redis_sku != "Premium":
            raise ValueError("redisSku: zone-redundant Redis needs Premium")
        return self

    @property
    def dns_service_ip(self) -> str:
        """The cluster DNS address: the tenth address of the Service range."""
        return str(ipaddress.ip_network(self.service_cidr)[10])

    @property
    def watcher_name(self) -> str:
        """The Network Watcher in effect."""
        return self.network_watcher_name or f"NetworkWatcher_{self.location}"

    def check(self, environment: str, region: str | None) -> None:
        check_public_control_plane(
            environment,
            private=self.private_cluster,
            allowed=self.authorized_ip_ranges,
            key="azure.authorizedIpRanges",
            endpoint="AKS API server",
        )
        if environment == "prod" and len(self.zones) < 2:
            raise ValueError("azure.zones: prod needs at least two availability zones")
        if environment == "prod" and self.tls_certificate_name is None:
            raise ValueError(
                "azure.tlsCertificateName: prod serves the API over HTTPS only; name its certificate in the Key Vault"
            )


# Secure defaults per environment, merged under the stack's `maestro:azure` object.
DEFAULTS: EnvironmentDefaults = {
    "dev": {
        "privateCluster": False,
        "nodeMin": 2,
        "nodeMax": 4,
        "zones": [],
        "skuTier": "Free",
        "softDeleteDays": 7,
        "redisSku": "Standard",
        "redisCapacity": 1,
        "appgwMinCapacity": 0,
    },
    "prod": {
        "privateCluster": True,
        "nodeMin": 3,
        "nodeMax": 9,
        "zones": ["1", "2", "3"],
        "skuTier": "Standard",
        "softDeleteDays": 30,
        "redisSku": "Premium",
        "redisCapacity": 1,
        "appgwMinCapacity": 2,
    },
}
