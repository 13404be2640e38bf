"""Azure Cache for Redis: TLS 1.2 only, no public network access (a private endpoint in the VNet), zone-redundant
Premium with a replica in prod."""

from __future__ import annotations

import pulumi_azure_native as azure

from components.foundations.azure.network import REDIS_DNS_ZONE, Network, private_endpoint
from components.foundations.azure.scope import AzureScope

# Azure Cache for Redis serves TLS on 6380, a port fixed by the service (config/ports.yaml's redis port is ours).
AZURE_REDIS_TLS_PORT = 6380


def redis(scope: AzureScope, net: Network) -> azure.redis.Redis:
    cfg, args = scope.args.config, scope.args
    premium = cfg.redis_sku == "Premium"
    cache = azure.redis.Redis(
        f"{scope.name}-redis",
        resource_group_name=scope.rg,
        name=f"{scope.base}-redis",
        location=cfg.location,
        sku={"name": cfg.redis_sku, "family": "P" if premium else "C", "capacity": cfg.redis_capacity},
        enable_non_ssl_port=False,
        minimum_tls_version="1.2",
        public_network_access="Disabled",
        redis_version="6",
        zones=list(cfg.zones) or None,
        replicas_per_primary=1 if premium else None,
        tags=scope.tags,
        opts=scope.opts(protect=args.deletion_protection),
    )
    private_endpoint(scope, net, "redis", cache.id, "redisCache", REDIS_DNS_ZONE)
    return cache
