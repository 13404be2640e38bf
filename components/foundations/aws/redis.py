"""ElastiCache for Redis: TLS in transit, AUTH token (pulumi-random, secret), at-rest encryption with our key,
private subnets only, and automatic failover across AZs in prod (at least one replica)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.config import RedisConfig
from components.foundations.contract import RedisEndpoint


class ManagedRedis(pulumi.ComponentResource):
    """Exposes `endpoint: RedisEndpoint` and `group`."""

    def __init__(
        self,
        name: str,
        *,
        config: RedisConfig,
        port: int,
        vpc_id: pulumi.Input[str],
        vpc_cidr: str,
        subnet_ids: list[pulumi.Output[str]],
        key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:ManagedRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.elasticache.SubnetGroup(f"{name}-subnets", subnet_ids=subnet_ids, opts=child)
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=vpc_id,
            description="Redis: TLS port from inside the VPC only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "cidr_blocks": [vpc_cidr],
                    "description": "Redis clients in the VPC",
                }
            ],
            egress=[],
            opts=child,
        )
        # ElastiCache refuses @, " and / in tokens: alphanumerics only.
        token = random.RandomPassword(f"{name}-auth-token", length=64, special=False, opts=child)
        multi_az = config.replicas > 0
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            description="Maestro cache and rate-limit store",
            engine="redis",
            engine_version=config.version,
            node_type=config.node_type,
            port=port,
            num_cache_clusters=1 + config.replicas,
            automatic_failover_enabled=multi_az,
            multi_az_enabled=multi_az,
            subnet_group_name=subnets.name,
            security_group_ids=[sg.id],
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=token.result,
            at_rest_encryption_enabled="true",
            kms_key_id=key_arn,
            snapshot_retention_limit=7 if multi_az else 1,
            apply_immediately=False,
            opts=child,
        )
        self.endpoint = RedisEndpoint(
            host=self.group.primary_endpoint_address,
            port=port,
            password=pulumi.Output.secret(token.result),
            tls=True,
        )
        self.register_outputs({"host": self.group.primary_endpoint_address})
