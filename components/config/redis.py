"""`maestro:redis`: managed on clouds, an in-cluster StatefulSet on plain Kubernetes."""

from __future__ import annotations

from pydantic import Field

from components.config.base import EnvironmentDefaults, Model


class RedisConfig(Model):
    """Redis: managed on clouds, an in-cluster StatefulSet on plain Kubernetes."""

    version: str = "7.1"
    """ElastiCache engine version (the in-cluster image is pinned in components/workloads/redis.py)."""
    node_type: str = "cache.t4g.small"
    """ElastiCache node type (AWS only)."""
    replicas: int = Field(ge=0, le=5)
    """Read replicas of ElastiCache (dev 0, prod 1: with the primary that makes it multi-AZ)."""
    volume_size: str = "2Gi"
    """Volume of the in-cluster Redis."""


# Prod: multi-AZ (one replica) on a memory-optimised node.
DEFAULTS: EnvironmentDefaults = {
    "dev": {"replicas": 0},
    "prod": {"replicas": 1, "nodeType": "cache.r7g.large"},
}
