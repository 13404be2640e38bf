"""AwsFoundation: network, keys, buckets, EKS, workload identity, ElastiCache, WAF, the load balancer controller and
ECR, returned as `FoundationOutputs`.

The Foundation constructs its providers (the AWS provider with the ownership default tags, one for the DR region,
and the Kubernetes provider of the new cluster): handing out the cluster's provider is its part of the seam, and the
workloads inherit it through their parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.buckets import BucketSpec, SecureBucket
from components.aws.cluster import Cluster
from components.aws.identity import workload_identities
from components.aws.ingress import INGRESS_CLASS, LoadBalancerController, alb_annotations
from components.aws.keys import Keys
from components.aws.network import Network
from components.aws.redis import ManagedRedis
from components.aws.registry import Registry
from components.aws.waf import Waf
from components.config import AwsConfig, Ports, PostgresConfig, RedisConfig, WafConfig
from components.foundation import BucketRef, FoundationOutputs, IdentityRequest

STORAGE_CLASS = "gp3-encrypted"
# Regions older than 2022 deliver ALB access logs from a regional ELB account, newer ones from a service principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
    "eu-central-1": "054676820928",
}


@dataclass(frozen=True)
class AwsFoundationArgs:
    config: AwsConfig
    """Validated AWS settings."""
    environment: Literal["dev", "prod"]
    """dev or prod."""
    region: str
    """The stack's region (`aws:region`)."""
    deletion_protection: bool
    """Protect stateful resources (cluster, buckets)."""
    postgres: PostgresConfig
    """For the backup bucket's retention and Object Lock period."""
    redis: RedisConfig
    """ElastiCache sizing."""
    waf: WafConfig
    """WAF mode and rate limit."""
    ports: Ports
    """The port map."""
    identities: Mapping[str, IdentityRequest]
    """Service accounts that must reach a bucket."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Ownership tags applied to every AWS resource through the provider's default tags."""


class AwsFoundation(pulumi.ComponentResource):
    """Exposes `outputs: FoundationOutputs` and the parts (`network`, `cluster`, `buckets`, `waf`) for tests."""

    def __init__(self, name: str, args: AwsFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:aws:Foundation", name, None, opts)
        cfg = args.config
        prod = args.environment == "prod"
        tags = dict(args.tags)
        cluster_name = f"{name}-eks"
        provider = aws.Provider(
            f"{name}-provider",
            region=args.region,
            default_tags={"tags": tags},
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers=[provider])
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id

        self.keys = Keys(
            f"{name}-keys", account_id=account, region=args.region, deletion_window_days=30 if prod else 7, opts=child
        )
        key = {p: k.arn for p, k in self.keys.keys.items()}
        self.network = Network(
            f"{name}-network",
            cidr=cfg.vpc_cidr,
            nat_per_az=cfg.nat_per_az,
            flow_log_retention_days=cfg.flow_log_retention_days,
            logs_key_arn=key["logs"],
            cluster_name=cluster_name,
            opts=child,
        )

        # Buckets: access logs first (the others log into it).
        force_destroy = not args.deletion_protection
        retention = args.postgres.backup_retention_days
        log_statements = self._log_delivery_statements(account, args.region)
        self.log_bucket = SecureBucket(
            f"{name}-logs",
            BucketSpec("logs", expire_days=365 if prod else 30, noncurrent_days=30),
            kms_key_arn=None,
            log_bucket=None,
            force_destroy=force_destroy,
            extra_statements=log_statements,
            opts=child,
        )
        specs: dict[Literal["backup", "artifact"], BucketSpec] = {
            # Backups outlive their retention by a week so WAL-G's own deletion runs first.
            "backup": BucketSpec(
                "backup", expire_days=retention + 7, noncurrent_days=7, object_lock_days=retention if prod else None
            ),
            "artifact": BucketSpec("artifact", expire_days=None, noncurrent_days=90 if prod else 7),
        }
        self.buckets = {
            purpose: SecureBucket(
                f"{name}-{purpose}",
                spec,
                kms_key_arn=key["storage"],
                log_bucket=self.log_bucket.name,
                force_destroy=force_destroy,
                opts=child,
            )
            for purpose, spec in specs.items()
        }
        if cfg.dr_region:
            self._replicate(name, cfg.dr_region, specs, tags, force_destroy, account)

        self.cluster = Cluster(
            cluster_name,
            config=cfg,
            region=args.region,
            private_subnet_ids=self.network.private_subnet_ids,
            cluster_key_arn=key["cluster"],
            storage_key_arn=key["storage"],
            deletion_protection=args.deletion_protection,
            opts=child,
        )
        k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.cluster.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster.node_group]),
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={"name": STORAGE_CLASS},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key["storage"]},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain" if prod else "Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=self.cluster.addons),
        )
        identities = workload_identities(
            f"{name}-identity",
            args.identities,
            oidc_provider_arn=self.cluster.oidc_provider.arn,
            issuer=self.cluster.issuer,
            bucket_arns={p: b.arn for p, b in self.buckets.items()},
            key_arn=key["storage"],
            opts=child,
        )
        self.redis = ManagedRedis(
            f"{name}-redis",
            config=args.redis,
            port=args.ports.redis,
            vpc_id=self.network.vpc.id,
            vpc_cidr=cfg.vpc_cidr,
            subnet_ids=self.network.private_subnet_ids,
            key_arn=key["redis"],
            opts=child,
        )
        self.waf = Waf(f"{name}-waf", config=args.waf, logs_key_arn=key["logs"], opts=child)
        controller = LoadBalancerController(
            f"{name}-alb-controller",
            cluster_name=self.cluster.cluster.name,
            region=args.region,
            vpc_id=self.network.vpc.id,
            oidc_provider_arn=self.cluster.oidc_provider.arn,
            issuer=self.cluster.issuer,
            chart_version=cfg.alb_controller_chart_version,
            k8s_provider=k8s_provider,
            opts=child,
        )
        registry = Registry(f"{name}-registry", key_arn=key["storage"], force_delete=force_destroy, opts=child)

        def ref(purpose: Literal["backup", "artifact"]) -> BucketRef:
            return BucketRef(
                scheme="s3", name=self.buckets[purpose].name, region=args.region, kms_key_id=key["storage"]
            )

        self.outputs = FoundationOutputs(
            cloud="aws",
            k8s_provider=k8s_provider,
            cluster_name=self.cluster.cluster.name,
            kubeconfig=self.cluster.kubeconfig,
            storage_class=STORAGE_CLASS,
            ingress_class=INGRESS_CLASS,
            ingress_annotations=alb_annotations(
                waf_acl_arn=self.waf.acl.arn,
                certificate_arn=cfg.certificate_arn,
                log_bucket=self.log_bucket.name,
                deletion_protection=args.deletion_protection,
                https_port=args.ports.https,
                http_port=args.ports.http,
            ),
            # target-type ip: the ALB's nodes in the VPC connect straight to the API pods.
            ingress_peers=[{"ipBlock": {"cidr": cfg.vpc_cidr}}],
            service_cidrs=(cfg.vpc_cidr,),
            backup_bucket=ref("backup"),
            artifact_bucket=ref("artifact"),
            identities=identities,
            key_ids={p: k.key_id for p, k in self.keys.keys.items()},
            waf_id=self.waf.acl.id,
            redis=self.redis.endpoint,
            registry=registry.ref,
            ready=[self.cluster.node_group, controller.release, storage_class],
            extra_outputs={
                "vpcId": self.network.vpc.id,
                "logBucket": self.log_bucket.name,
                "wafArn": self.waf.acl.arn,
                "redisHost": self.redis.group.primary_endpoint_address,
            },
        )
        self.register_outputs({"cluster": self.cluster.cluster.name, "waf": self.waf.acl.arn})

    def _log_delivery_statements(self, account: pulumi.Output[str], region: str) -> list[dict[str, Any]]:
        """S3 server access logs and ALB access logs may write into the log bucket, from this account only."""
        bucket_objects = "arn:aws:s3:::*"  # narrowed by the SourceAccount condition; the name is generated
        elb_principal: dict[str, Any] = (
            {"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS[region]}:root"}
            if region in ELB_LOG_ACCOUNTS
            else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        )
        return [
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": bucket_objects,
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
            {
                "Sid": "AlbAccessLogs",
                "Effect": "Allow",
                "Principal": elb_principal,
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat("arn:aws:s3:::*/alb/AWSLogs/", account, "/*"),
            },
        ]

    def _replicate(
        self,
        name: str,
        dr_region: str,
        specs: Mapping[Literal["backup", "artifact"], BucketSpec],
        tags: dict[str, str],
        force_destroy: bool,
        account: pulumi.Output[str],
    ) -> None:
        dr_provider = aws.Provider(
            f"{name}-dr-provider",
            region=dr_region,
            default_tags={"tags": tags},
            opts=pulumi.ResourceOptions(parent=self),
        )
        dr = pulumi.ResourceOptions(parent=self, providers=[dr_provider])
        dr_keys = Keys(f"{name}-dr-keys", account_id=account, region=dr_region, deletion_window_days=30, opts=dr)
        dr_logs = SecureBucket(
            f"{name}-dr-logs",
            BucketSpec("logs", expire_days=365, noncurrent_days=30),
            kms_key_arn=None,
            log_bucket=None,
            force_destroy=force_destroy,
            opts=dr,
            extra_statements=self._log_delivery_statements(account, dr_region)[:1],
        )
        for purpose, spec in specs.items():
            replica = SecureBucket(
                f"{name}-dr-{purpose}",
                spec,
                kms_key_arn=dr_keys.keys["storage"].arn,
                log_bucket=dr_logs.name,
                force_destroy=force_destroy,
                opts=dr,
            )
            self.buckets[purpose].replicate_to(
                f"{name}-{purpose}-replication",
                replica,
                source_key_arn=self.keys.keys["storage"].arn,
                destination_key_arn=dr_keys.keys["storage"].arn,
            )
