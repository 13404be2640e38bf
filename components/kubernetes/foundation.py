"""The plain-Kubernetes Foundation (kind, k3s, on-prem): the cluster exists already; the WAF is ingress-nginx with
ModSecurity and the OWASP Core Rule Set. There is no object store and no managed Redis: Postgres runs without
WAL archiving and MLflow keeps artifacts on a volume (fine for development, documented in docs/pulumi.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import KubernetesConfig, Ports, WafConfig
from components.foundation import FoundationOutputs
from components.kubernetes.network import (
    ANYWHERE,
    INGRESS_WEBHOOK_PORT,
    IngressControllerFlows,
    ingress_controller_policies,
)
from components.kubernetes.security import container_security_context, resources

INGRESS_NGINX_CHART_VERSION = "4.13.3"
INGRESS_NGINX_REPO = "https://kubernetes.github.io/ingress-nginx"
INGRESS_NAMESPACE = "ingress-nginx"


@dataclass(frozen=True)
class KubernetesFoundationArgs:
    labels: Mapping[str, str]
    """Ownership labels (owner, environment, cost-center) for the objects this Foundation creates."""
    config: KubernetesConfig
    """Validated settings."""
    waf: WafConfig
    """WAF mode: `block` turns the CRS engine on, `count` runs it in detection-only mode."""
    ports: Ports
    """The port map."""


class KubernetesFoundation(pulumi.ComponentResource):
    """Exposes `outputs: FoundationOutputs`."""

    def __init__(self, name: str, args: KubernetesFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Foundation", name, None, opts)
        cfg = args.config
        # The Foundation's job is to hand out the provider the workloads inherit (the seam in DESIGN.md).
        provider = k8s.Provider(f"{name}-provider", context=cfg.context, opts=pulumi.ResourceOptions(parent=self))
        engine = "On" if args.waf.mode == "block" else "DetectionOnly"
        namespace = k8s.core.v1.Namespace(
            f"{name}-ingress-namespace",
            # The controller binds host ports on kind and needs NET_BIND_SERVICE: baseline, not restricted.
            metadata={
                "name": INGRESS_NAMESPACE,
                "labels": {**args.labels, "pod-security.kubernetes.io/enforce": "baseline"},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        # Default deny in the controller's namespace, like the platform's own. The controller gets the world on
        # HTTP/HTTPS (kind's host ports or a plain load balancer: no fixed source range), the API server for its
        # watches and leader election and, calling back, its admission webhook (the API server's address is not
        # known to the program here), and behind it only the API's pods.
        self.ingress_policies = ingress_controller_policies(
            f"{name}-ingress",
            IngressControllerFlows(
                namespace=INGRESS_NAMESPACE,
                public_from=ANYWHERE,
                public_ports=(args.ports.http, args.ports.https),
                api_port=args.ports.api,
                kube_api=ANYWHERE,
                webhook_from=ANYWHERE,
                webhook_port=INGRESS_WEBHOOK_PORT,
            ),
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[namespace]),
        )
        controller = k8s.helm.v3.Release(
            f"{name}-ingress-nginx",
            name="ingress-nginx",
            chart="ingress-nginx",
            version=INGRESS_NGINX_CHART_VERSION,
            namespace=INGRESS_NAMESPACE,
            repository_opts={"repo": INGRESS_NGINX_REPO},
            values={
                "controller": {
                    "ingressClassResource": {"name": cfg.ingress_class, "default": False},
                    # The port the namespace's policy opens to the API server (the chart's default, stated).
                    "admissionWebhooks": {"port": INGRESS_WEBHOOK_PORT},
                    "resources": resources("100m", "256Mi"),
                    "containerSecurityContext": {
                        **container_security_context(read_only_root=False),
                        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                        "runAsUser": 101,
                    },
                    "config": {
                        "enable-modsecurity": "true",
                        "enable-owasp-modsecurity-crs": "true",
                        # JSON bodies are inspected only with the JSON body processor (see DESIGN.md).
                        "modsecurity-snippet": (
                            f"SecRuleEngine {engine}\n"
                            "SecRequestBodyAccess On\n"
                            'SecRule REQUEST_HEADERS:Content-Type "^application/(?:.+\\+)?json" '
                            '"id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"\n'
                        ),
                    },
                }
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[namespace]),
        )
        self.outputs = FoundationOutputs(
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
        self.register_outputs({"cluster_name": self.outputs.cluster_name})
