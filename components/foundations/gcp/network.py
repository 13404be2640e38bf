"""The VPC: one private subnet for the nodes (with the pods' and Services' secondary ranges and flow logs), and
Cloud NAT for the nodes' outbound traffic."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_gcp as gcp

from components.foundations.cloud import Scope
from components.foundations.gcp.args import GcpFoundationArgs


@dataclass(frozen=True)
class Network:
    network: gcp.compute.Network
    """The VPC."""
    subnet: gcp.compute.Subnetwork
    """The nodes' subnet."""


def network(scope: Scope[GcpFoundationArgs]) -> Network:
    name, cfg = scope.name, scope.args.config
    vpc = gcp.compute.Network(
        f"{name}-network",
        project=cfg.project,
        auto_create_subnetworks=False,
        routing_mode="REGIONAL",
        opts=scope.child,
    )
    subnet = gcp.compute.Subnetwork(
        f"{name}-nodes",
        project=cfg.project,
        region=cfg.region,
        network=vpc.id,
        ip_cidr_range=cfg.subnet_cidr,
        secondary_ip_ranges=[
            {"range_name": "pods", "ip_cidr_range": cfg.pods_cidr},
            {"range_name": "services", "ip_cidr_range": cfg.services_cidr},
        ],
        # Nodes have no public IPs; Google APIs (GCS, KMS, Artifact Registry) over the private path.
        private_ip_google_access=True,
        log_config={
            "aggregation_interval": "INTERVAL_5_SEC",
            "flow_sampling": cfg.flow_log_sampling,
            "metadata": "INCLUDE_ALL_METADATA",
        },
        opts=scope.child,
    )
    router = gcp.compute.Router(
        f"{name}-router", project=cfg.project, region=cfg.region, network=vpc.id, opts=scope.child
    )
    gcp.compute.RouterNat(
        f"{name}-nat",
        project=cfg.project,
        region=cfg.region,
        router=router.name,
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
        log_config={"enable": True, "filter": "ERRORS_ONLY"},
        opts=scope.child,
    )
    return Network(network=vpc, subnet=subnet)
