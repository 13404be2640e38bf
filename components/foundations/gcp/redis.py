"""Memorystore for Redis: highly available (a replica in another zone), AUTH, TLS, our key, in the VPC only."""

from __future__ import annotations

import pulumi_gcp as gcp

from components.foundations.cloud import Scope
from components.foundations.gcp.args import GcpFoundationArgs
from components.foundations.gcp.keys import Keys
from components.foundations.gcp.network import Network

# Memorystore serves TLS on 6378, a port fixed by the service (config/ports.yaml's redis port is ours, not theirs).
MEMORYSTORE_TLS_PORT = 6378


def redis(scope: Scope[GcpFoundationArgs], net: Network, keys: Keys) -> gcp.redis.Instance:
    name, cfg, args = scope.name, scope.args.config, scope.args
    return gcp.redis.Instance(
        f"{name}-redis",
        project=cfg.project,
        region=cfg.region,
        name=f"maestro-{args.environment}",
        tier="STANDARD_HA",  # a replica in another zone with automatic failover
        memory_size_gb=cfg.redis_memory_gb,
        redis_version=cfg.redis_version,
        authorized_network=net.network.id,
        connect_mode="DIRECT_PEERING",
        reserved_ip_range=cfg.redis_cidr,
        auth_enabled=True,
        transit_encryption_mode="SERVER_AUTHENTICATION",
        customer_managed_key=keys.keys["redis"].id,
        maintenance_policy={
            "weekly_maintenance_windows": [{"day": "SUNDAY", "start_time": {"hours": 3, "minutes": 0}}]
        },
        deletion_protection=args.deletion_protection,
        labels=scope.tags,
        opts=scope.opts(depends_on=keys.grants),
    )
