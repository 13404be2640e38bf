"""The public edge: Cloud Armor in front of the ingress-nginx controller, which serves the API's Ingress.

How the WAF reaches the API. Cloud Armor attaches to a GKE load balancer's backend through a BackendConfig that the
*Service* names (GKE ignores that annotation on an Ingress), and the BackendConfig must live in the Service's
namespace. The workloads' contract (`FoundationOutputs`) carries ingress annotations only, so the Foundation owns
the whole public edge itself:

    GCE Ingress (global static IP, FrontendConfig: SSL policy, HTTPS redirect, managed certificate)
      -> ingress-nginx controller Service (NEG, BackendConfig: Cloud Armor policy, request logging)
        -> the API's Ingress (class `nginx`) -> the API Service

Every byte that reaches the API has passed the Cloud Armor policy; the API's Ingress needs no annotation.

The `ingress-nginx` namespace is default-deny like the workloads' namespaces. The controller may receive only what
the load balancer sends (Google Front Ends and their health checks, from `GFE_RANGES`, straight to the pods through
the NEG) and the control plane's admission-webhook calls; it may send only to the API's pods, cluster DNS and the
control plane.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.foundations.cloud import Scope
from components.foundations.gcp.args import GcpFoundationArgs
from components.foundations.gcp.cluster import Cluster
from components.foundations.gcp.network import Network
from components.foundations.gcp.waf import armor_policy
from components.foundations.ingress_nginx import (
    INGRESS_NAMESPACE,
    INGRESS_WEBHOOK_PORT,
    IngressControllerFlows,
    ingress_controller_policies,
    ingress_namespace,
    ingress_nginx_release,
)

# Where Google Front Ends and their health checks reach backends from (documented, fixed ranges).
GFE_RANGES = ("130.211.0.0/22", "35.191.0.0/16")
INGRESS_CLASS = "nginx"
WAF_BACKEND_CONFIG = "maestro-waf"
FRONTEND_CONFIG = "maestro-edge"


@dataclass(frozen=True)
class Edge:
    armor: gcp.compute.SecurityPolicy
    """The Cloud Armor policy (the WAF)."""
    address: gcp.compute.GlobalAddress
    """The load balancer's global static IP."""
    controller: k8s.helm.v3.Release
    """The ingress-nginx release that serves the API's Ingress."""


def edge(scope: Scope[GcpFoundationArgs], net: Network, gke: Cluster) -> Edge:
    name, cfg, args = scope.name, scope.args.config, scope.args
    armor = armor_policy(scope)
    ssl_policy = gcp.compute.SSLPolicy(
        f"{name}-ssl-policy",
        project=cfg.project,
        name=f"maestro-{args.environment}-tls12",
        profile="MODERN",
        min_tls_version="TLS_1_2",
        opts=scope.child,
    )
    address = gcp.compute.GlobalAddress(
        f"{name}-ingress-ip",
        project=cfg.project,
        name=f"maestro-{args.environment}-ingress",
        labels=scope.tags,
        opts=scope.child,
    )
    namespace = ingress_namespace(name, scope.tags, scope.opts(provider=gke.provider))
    in_ns = scope.opts(provider=gke.provider, depends_on=[namespace])
    _controller_network(scope, net, gke, in_ns)
    backend_config = k8s.apiextensions.CustomResource(
        f"{name}-backend-config",
        api_version="cloud.google.com/v1",
        kind="BackendConfig",
        metadata={"name": WAF_BACKEND_CONFIG, "namespace": INGRESS_NAMESPACE, "labels": scope.tags},
        spec={
            "securityPolicy": {"name": armor.name},
            "logging": {"enable": True, "sampleRate": 1.0},
            "healthCheck": {"type": "HTTP", "requestPath": "/healthz", "port": args.ports.http},
            "connectionDraining": {"drainingTimeoutSec": 30},
        },
        opts=in_ns,
    )
    frontend_spec: dict[str, Any] = {"sslPolicy": ssl_policy.name}
    if args.api_hostname:
        frontend_spec["redirectToHttps"] = {"enabled": True}
    frontend = k8s.apiextensions.CustomResource(
        f"{name}-frontend-config",
        api_version="networking.gke.io/v1beta1",
        kind="FrontendConfig",
        metadata={"name": FRONTEND_CONFIG, "namespace": INGRESS_NAMESPACE, "labels": scope.tags},
        spec=frontend_spec,
        opts=in_ns,
    )
    controller = ingress_nginx_release(
        name,
        ingress_class=INGRESS_CLASS,
        common_labels=scope.tags,
        controller={
            "replicaCount": 3 if args.environment == "prod" else 1,
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "service": {
                # Reached only through the GCE load balancer (container-native, NEG) below.
                "type": "ClusterIP",
                "annotations": {
                    "cloud.google.com/neg": json.dumps({"ingress": True}),
                    "cloud.google.com/backend-config": json.dumps({"default": WAF_BACKEND_CONFIG}),
                },
            },
            "config": {
                # The client address is the first X-Forwarded-For hop added by the Google Front End.
                "use-forwarded-headers": "true",
                "proxy-real-ip-cidr": ",".join(GFE_RANGES),
            },
        },
        opts=scope.opts(provider=gke.provider, depends_on=[namespace, backend_config]),
    )
    annotations: dict[str, pulumi.Input[str]] = {
        "kubernetes.io/ingress.global-static-ip-name": address.name,
        "networking.gke.io/v1beta1.FrontendConfig": FRONTEND_CONFIG,
        "kubernetes.io/ingress.allow-http": "false" if args.api_hostname else "true",
    }
    depends: list[pulumi.Resource] = [controller, frontend]
    if args.api_hostname:
        cert = k8s.apiextensions.CustomResource(
            f"{name}-certificate",
            api_version="networking.gke.io/v1",
            kind="ManagedCertificate",
            metadata={"name": "maestro-api", "namespace": INGRESS_NAMESPACE, "labels": scope.tags},
            spec={"domains": [args.api_hostname]},
            opts=in_ns,
        )
        annotations["networking.gke.io/managed-certificates"] = "maestro-api"
        depends.append(cert)
    k8s.networking.v1.Ingress(
        f"{name}-edge",
        metadata={
            "name": "maestro-edge",
            "namespace": INGRESS_NAMESPACE,
            "labels": scope.tags,
            "annotations": annotations,
        },
        spec={
            "ingress_class_name": "gce",
            "default_backend": {"service": {"name": "ingress-nginx-controller", "port": {"number": args.ports.http}}},
        },
        opts=scope.opts(provider=gke.provider, depends_on=depends),
    )
    return Edge(armor=armor, address=address, controller=controller)


def _controller_network(
    scope: Scope[GcpFoundationArgs], net: Network, gke: Cluster, in_ns: pulumi.ResourceOptions
) -> None:
    """Default deny in the controller's namespace, then the flows the controller needs (module docstring), and the
    firewall rule that lets the control plane reach the admission webhook on the nodes."""
    name, cfg, ports = scope.name, scope.args.config, scope.args.ports
    control_plane = [{"ipBlock": {"cidr": cfg.master_cidr}}]
    flows = IngressControllerFlows(
        namespace=INGRESS_NAMESPACE,
        # The load balancer (NEG: GFE to pod) and its health checks.
        public_from=[{"ipBlock": {"cidr": c}} for c in GFE_RANGES],
        public_ports=(ports.http,),
        api_port=ports.api,
        # In a private cluster the API server is the private endpoint in `masterCidr`, on 443 only.
        kube_api=control_plane,
        kube_api_ports=(443,),
        # The control plane validating Ingresses through the admission webhook (set explicitly in the chart).
        webhook_from=control_plane,
        webhook_port=INGRESS_WEBHOOK_PORT,
    )
    ingress_controller_policies(f"{name}-ingress", flows, opts=in_ns, labels=scope.tags)
    # GKE's own firewall rules let the control plane reach nodes on 443 and 10250 only; the admission webhook
    # listens on INGRESS_WEBHOOK_PORT.
    gcp.compute.Firewall(
        f"{name}-master-webhook",
        project=cfg.project,
        name=f"maestro-{scope.args.environment}-master-webhook",
        network=net.network.id,
        description="GKE control plane to the ingress-nginx admission webhook on the nodes",
        direction="INGRESS",
        source_ranges=[cfg.master_cidr],
        target_service_accounts=[gke.node_account.email],
        allows=[{"protocol": "tcp", "ports": [str(INGRESS_WEBHOOK_PORT)]}],
        log_config={"metadata": "INCLUDE_ALL_METADATA"},
        opts=scope.child,
    )
