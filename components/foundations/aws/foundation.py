"""The AWS Foundation: network, keys, buckets, EKS, workload identity, ElastiCache, WAF, the load balancer controller
and ECR, returned as `FoundationOutputs`.

The Foundation constructs its providers (the AWS provider with the ownership default tags, one for the DR region,
and the Kubernetes provider of the new cluster): handing out the cluster's provider is its part of the seam, and the
workloads inherit it through their parent.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.foundations.aws.buckets import buckets
from components.foundations.aws.cluster import STORAGE_CLASS, Cluster, storage_class
from components.foundations.aws.identity import workload_identities
from components.foundations.aws.ingress import INGRESS_CLASS, LoadBalancerController, alb_annotations
from components.foundations.aws.keys import Keys
from components.foundations.aws.network import Network
from components.foundations.aws.redis import ManagedRedis
from components.foundations.aws.registry import Registry
from components.foundations.aws.waf import Waf
from components.foundations.contract import Foundation, FoundationArgs, FoundationOutputs, bucket_refs, required


def build(name: str, args: FoundationArgs, opts: pulumi.ResourceOptions) -> FoundationOutputs:
    """The AWS Foundation `maestro:aws:Foundation` for a validated stack config."""
    config, ports = args.config, args.ports
    cfg = required(config.aws, "aws")
    region = config.region
    if not region:  # MaestroConfig requires it with cloud aws; a config built by hand may lack it
        raise ValueError("aws:region: required when cloud is aws")
    prod = config.environment == "prod"
    tags = config.common_tags
    foundation = Foundation("aws", name, opts)
    cluster_name = f"{name}-eks"
    provider = aws.Provider(
        f"{name}-provider", region=region, default_tags={"tags": tags}, opts=pulumi.ResourceOptions(parent=foundation)
    )
    child = pulumi.ResourceOptions(parent=foundation, providers=[provider])
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id

    keys = Keys(f"{name}-keys", account_id=account, region=region, deletion_window_days=30 if prod else 7, opts=child)
    key = {p: k.arn for p, k in keys.keys.items()}
    network = Network(
        f"{name}-network",
        cidr=cfg.vpc_cidr,
        nat_per_az=cfg.nat_per_az,
        flow_log_retention_days=cfg.flow_log_retention_days,
        logs_key_arn=key["logs"],
        cluster_name=cluster_name,
        opts=child,
    )
    stored = buckets(
        name,
        foundation,
        environment=config.environment,
        region=region,
        dr_region=cfg.dr_region,
        retention_days=config.postgres.backup_retention_days,
        force_destroy=not config.deletion_protection,
        keys=keys,
        tags=tags,
        account=account,
        opts=child,
    )
    cluster = Cluster(
        cluster_name,
        config=cfg,
        region=region,
        private_subnet_ids=network.private_subnet_ids,
        cluster_key_arn=key["cluster"],
        storage_key_arn=key["storage"],
        deletion_protection=config.deletion_protection,
        opts=child,
    )
    k8s_provider = k8s.Provider(
        f"{name}-k8s",
        kubeconfig=cluster.kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(parent=foundation, depends_on=[cluster.node_group]),
    )
    storage = storage_class(name, foundation, cluster, provider=k8s_provider, key_arn=key["storage"], retain=prod)
    workload_ids = workload_identities(
        f"{name}-identity",
        args.identities,
        oidc_provider_arn=cluster.oidc_provider.arn,
        issuer=cluster.issuer,
        bucket_arns={p: b.arn for p, b in stored.data.items()},
        key_arn=key["storage"],
        opts=child,
    )
    redis = ManagedRedis(
        f"{name}-redis",
        config=config.redis,
        port=ports.redis,
        vpc_id=network.vpc.id,
        vpc_cidr=cfg.vpc_cidr,
        subnet_ids=network.private_subnet_ids,
        key_arn=key["redis"],
        opts=child,
    )
    waf = Waf(f"{name}-waf", config=config.waf, logs_key_arn=key["logs"], opts=child)
    controller = LoadBalancerController(
        f"{name}-alb-controller",
        cluster_name=cluster.cluster.name,
        region=region,
        vpc_id=network.vpc.id,
        oidc_provider_arn=cluster.oidc_provider.arn,
        issuer=cluster.issuer,
        chart_version=cfg.alb_controller_chart_version,
        k8s_provider=k8s_provider,
        opts=child,
    )
    registry = Registry(
        f"{name}-registry", key_arn=key["storage"], force_delete=not config.deletion_protection, opts=child
    )

    refs = bucket_refs("s3", {p: b.name for p, b in stored.data.items()}, region, kms_key_id=key["storage"])
    outputs = FoundationOutputs(
        cloud="aws",
        k8s_provider=k8s_provider,
        cluster_name=cluster.cluster.name,
        kubeconfig=cluster.kubeconfig,
        storage_class=STORAGE_CLASS,
        ingress_class=INGRESS_CLASS,
        ingress_annotations=alb_annotations(
            waf_acl_arn=waf.acl.arn,
            certificate_arn=cfg.certificate_arn,
            log_bucket=stored.logs.name,
            deletion_protection=config.deletion_protection,
            https_port=ports.https,
            http_port=ports.http,
        ),
        # target-type ip: the ALB's nodes in the VPC connect straight to the API pods.
        ingress_peers=[{"ipBlock": {"cidr": cfg.vpc_cidr}}],
        service_cidrs=(cfg.vpc_cidr,),
        backup_bucket=refs["backup"],
        artifact_bucket=refs["artifact"],
        identities=workload_ids,
        key_ids={p: k.key_id for p, k in keys.keys.items()},
        waf_id=waf.acl.id,
        redis=redis.endpoint,
        registry=registry.ref,
        ready=[cluster.node_group, controller.release, storage],
        extra_outputs={
            "vpcId": network.vpc.id,
            "logBucket": stored.logs.name,
            "wafArn": waf.acl.arn,
            "redisHost": redis.group.primary_endpoint_address,
        },
    )
    foundation.register_outputs({"cluster": cluster.cluster.name, "waf": waf.acl.arn})
    return outputs
