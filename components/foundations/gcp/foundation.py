"""The GCP Foundation: VPC, private GKE, Cloud KMS, GCS buckets, Memorystore, Cloud Armor and workload identity,
returned as `FoundationOutputs`."""

from __future__ import annotations

import pulumi

from components.foundations.cloud import Scope, foundation_args
from components.foundations.contract import Foundation, FoundationArgs, FoundationOutputs, RedisEndpoint, bucket_refs
from components.foundations.gcp.args import GcpFoundationArgs
from components.foundations.gcp.buckets import buckets
from components.foundations.gcp.cluster import STORAGE_CLASS, cluster
from components.foundations.gcp.edge import INGRESS_CLASS, edge
from components.foundations.gcp.identity import workload_identities
from components.foundations.gcp.keys import keys
from components.foundations.gcp.network import network
from components.foundations.gcp.redis import MEMORYSTORE_TLS_PORT, redis
from components.foundations.ingress_nginx import INGRESS_NAMESPACE


def build(name: str, args: FoundationArgs, opts: pulumi.ResourceOptions) -> FoundationOutputs:
    """The GCP Foundation `maestro:gcp:Foundation` for a validated stack config."""
    gcp_args = foundation_args(GcpFoundationArgs, "gcp", args, api_hostname=args.config.api.hostname)
    scope = Scope(Foundation("gcp", name, opts), name, gcp_args)
    cfg = gcp_args.config
    net = network(scope)
    key = keys(scope)
    gke = cluster(scope, net, key)
    stored = buckets(scope, key)
    memorystore = redis(scope, net, key)
    public = edge(scope, net, gke)
    workload_ids = workload_identities(scope, stored)

    refs = bucket_refs("gs", {p: b.name for p, b in stored.items()}, cfg.region, kms_key_id=key.keys["storage"].id)
    outputs = FoundationOutputs(
        cloud="gcp",
        k8s_provider=gke.provider,
        cluster_name=gke.cluster.name,
        kubeconfig=pulumi.Output.secret(gke.kubeconfig),
        storage_class=STORAGE_CLASS,
        ingress_class=INGRESS_CLASS,
        # The WAF sits in front of the ingress controller (edge.py): nothing to annotate.
        ingress_annotations={},
        ingress_peers=[{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}}],
        service_cidrs=(cfg.redis_cidr,),
        backup_bucket=refs["backup"],
        artifact_bucket=refs["artifact"],
        identities=workload_ids,
        key_ids={purpose: k.id for purpose, k in key.keys.items()},
        waf_id=public.armor.id,
        redis=RedisEndpoint(
            host=memorystore.host,
            port=MEMORYSTORE_TLS_PORT,
            password=pulumi.Output.secret(memorystore.auth_string),
            tls=True,
        ),
        registry=None,
        ready=[gke.node_pool, public.controller],
        extra_outputs={
            "gcpNetwork": net.network.name,
            "gcpIngressAddress": public.address.address,
            "gcpRedisCaCerts": memorystore.server_ca_certs.apply(
                lambda certs: "\n".join(c.cert or "" for c in certs or [])
            ),
        },
    )
    scope.parent.register_outputs(
        {"cluster_name": gke.cluster.name, "waf_id": public.armor.id, "network": net.network.id}
    )
    return outputs
