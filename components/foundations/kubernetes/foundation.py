"""The plain-Kubernetes Foundation (kind, k3s, on-prem): the cluster exists already; the WAF is ingress-nginx with
ModSecurity and the OWASP Core Rule Set. There is no object store and no managed Redis: Postgres runs without
WAL archiving and MLflow keeps artifacts on a volume (fine for development, documented in docs/pulumi.md)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.foundations.contract import Foundation, FoundationArgs, FoundationOutputs, required
from components.foundations.ingress_nginx import INGRESS_NAMESPACE
from components.foundations.kubernetes.edge import modsecurity_ingress


def build(name: str, args: FoundationArgs, opts: pulumi.ResourceOptions) -> FoundationOutputs:
    """The plain-Kubernetes Foundation `maestro:kubernetes:Foundation`. It has no bucket, so it creates no workload
    identity: the workloads ask for one only with a bucket."""
    config, ports = args.config, args.ports
    cfg = required(config.kubernetes, "kubernetes")
    foundation = Foundation("kubernetes", name, opts)
    # The Foundation's job is to hand out the provider the workloads inherit (the seam: docs/architecture.md).
    provider = k8s.Provider(f"{name}-provider", context=cfg.context, opts=pulumi.ResourceOptions(parent=foundation))
    controller = modsecurity_ingress(
        name,
        ingress_class=cfg.ingress_class,
        block=config.waf.mode == "block",
        ports=ports,
        labels=config.common_tags,
        opts=pulumi.ResourceOptions(parent=foundation, provider=provider),
    )
    outputs = FoundationOutputs(
        cloud="kubernetes",
        k8s_provider=provider,
        cluster_name=pulumi.Output.from_input(cfg.context or "current-context"),
        kubeconfig=pulumi.Output.secret("(your local kubeconfig: this stack does not create a cluster)"),
        storage_class=cfg.storage_class,
        ingress_class=cfg.ingress_class,
        ingress_annotations={
            "nginx.ingress.kubernetes.io/enable-modsecurity": "true",
            "nginx.ingress.kubernetes.io/enable-owasp-core-rules": "true",
        },
        ingress_peers=[{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}}],
        service_cidrs=(),
        backup_bucket=None,
        artifact_bucket=None,
        identities={},
        key_ids={},
        waf_id=None,
        ready=[controller],
    )
    foundation.register_outputs({"cluster_name": outputs.cluster_name})
    return outputs
