"""The VNet: a subnet per purpose (nodes, the Application Gateway, private endpoints, the API server) each with its
network security group, the private DNS zones of the private endpoints, and the endpoints themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.foundations.azure.scope import AzureScope

BLOB_DNS_ZONE = "privatelink.blob.core.windows.net"
REDIS_DNS_ZONE = "privatelink.redis.cache.windows.net"
SUBNETS = ("nodes", "appgw", "endpoints", "apiserver")


@dataclass(frozen=True)
class Network:
    vnet: azure.network.VirtualNetwork
    """The VNet."""
    subnets: dict[str, azure.network.Subnet]
    """The subnets by purpose (`SUBNETS`)."""
    dns_zones: dict[str, azure.privatedns.PrivateZone]
    """The private DNS zones by zone name (`BLOB_DNS_ZONE`, `REDIS_DNS_ZONE`)."""


def network(scope: AzureScope) -> Network:
    name, cfg, ports = scope.name, scope.args.config, scope.args.ports
    gateway_rules = [
        # Required by Application Gateway v2 for its own health and management traffic.
        _nsg_rule(
            "AllowGatewayManager",
            100,
            "GatewayManager",
            "65200-65535",
            "Application Gateway v2 infrastructure: health and management traffic from GatewayManager",
        ),
        _nsg_rule(
            "AllowAzureLoadBalancer",
            110,
            "AzureLoadBalancer",
            "*",
            "Azure load balancer health probes of the gateway instances",
        ),
        _nsg_rule(
            "AllowHttpsFromInternet",
            120,
            "Internet",
            str(ports.https),
            "The API's public HTTPS listener (TLS terminated on the gateway, WAF in front)",
        ),
        _nsg_rule(
            "AllowHttpFromInternet",
            130,
            "Internet",
            str(ports.http),
            "Plain HTTP to the gateway, which only redirects to HTTPS when a certificate is configured",
        ),
    ]
    nsgs = {
        purpose: azure.network.NetworkSecurityGroup(
            f"{name}-nsg-{purpose}",
            resource_group_name=scope.rg,
            network_security_group_name=f"{scope.base}-{purpose}-nsg",
            location=cfg.location,
            security_rules=gateway_rules if purpose == "appgw" else [],
            tags=scope.tags,
            opts=scope.child,
        )
        for purpose in SUBNETS
    }
    vnet = azure.network.VirtualNetwork(
        f"{name}-vnet",
        resource_group_name=scope.rg,
        virtual_network_name=f"{scope.base}-vnet",
        location=cfg.location,
        address_space={"address_prefixes": [cfg.vnet_cidr]},
        tags=scope.tags,
        # Subnets are separate resources; the VNet must not fight them over its `subnets` list.
        opts=scope.opts(ignore_changes=["subnets"]),
    )
    subnets: dict[str, azure.network.Subnet] = {}
    specs: dict[str, dict[str, Any]] = {
        "nodes": {"address_prefix": cfg.nodes_subnet_cidr},
        "appgw": {"address_prefix": cfg.appgw_subnet_cidr},
        "endpoints": {
            "address_prefix": cfg.endpoints_subnet_cidr,
            "private_endpoint_network_policies": "Enabled",  # NSGs apply to private endpoints too
        },
        # API server VNet integration: the control plane reaches the private Key Vault from here.
        "apiserver": {
            "address_prefix": cfg.apiserver_subnet_cidr,
            "delegations": [{"name": "aks", "service_name": "Microsoft.ContainerService/managedClusters"}],
        },
    }
    previous: list[pulumi.Resource] = []
    for purpose, spec in specs.items():
        subnet = azure.network.Subnet(
            f"{name}-subnet-{purpose}",
            resource_group_name=scope.rg,
            virtual_network_name=vnet.name,
            subnet_name=purpose,
            network_security_group={"id": nsgs[purpose].id},
            default_outbound_access=False,
            **spec,
            # Azure serialises changes to one VNet's subnets: create them one after another.
            opts=scope.opts(depends_on=list(previous)),
        )
        subnets[purpose] = subnet
        previous = [subnet]
    zones = (("blob", BLOB_DNS_ZONE), ("redis", REDIS_DNS_ZONE))
    dns_zones = {
        zone: azure.privatedns.PrivateZone(
            f"{name}-dns-{label}",
            resource_group_name=scope.rg,
            private_zone_name=zone,
            location="global",
            tags=scope.tags,
            opts=scope.child,
        )
        for label, zone in zones
    }
    for label, zone in zones:
        azure.privatedns.VirtualNetworkLink(
            f"{name}-dns-{label}-link",
            resource_group_name=scope.rg,
            private_zone_name=dns_zones[zone].name,
            virtual_network_link_name=f"{scope.base}-vnet",
            location="global",
            virtual_network={"id": vnet.id},
            registration_enabled=False,
            opts=scope.child,
        )
    return Network(vnet=vnet, subnets=subnets, dns_zones=dns_zones)


def private_endpoint(
    scope: AzureScope, net: Network, suffix: str, target: pulumi.Input[str], group: str, zone: str
) -> None:
    """A private endpoint for `target`'s `group` in the endpoints subnet, registered in the private DNS `zone`."""
    endpoint = azure.network.PrivateEndpoint(
        f"{scope.name}-{suffix}-pe",
        resource_group_name=scope.rg,
        private_endpoint_name=f"{scope.base}-{suffix}-pe",
        location=scope.args.config.location,
        subnet={"id": net.subnets["endpoints"].id},
        private_link_service_connections=[{"name": suffix, "private_link_service_id": target, "group_ids": [group]}],
        opts=scope.child,
    )
    azure.network.PrivateDnsZoneGroup(
        f"{scope.name}-{suffix}-pe-dns",
        resource_group_name=scope.rg,
        private_endpoint_name=endpoint.name,
        private_dns_zone_group_name="default",
        private_dns_zone_configs=[{"name": suffix, "private_dns_zone_id": net.dns_zones[zone].id}],
        opts=scope.child,
    )


def _nsg_rule(name: str, priority: int, source: str, ports: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "priority": priority,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp" if source == "Internet" else "*",
        "source_address_prefix": source,
        "source_port_range": "*",
        "destination_address_prefix": "*",
        "destination_port_range": ports,
    }
