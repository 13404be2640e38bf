"""ingress-nginx, the public ingress controller of the GCP and plain-Kubernetes Foundations: its namespace, the
namespace's NetworkPolicies and the Helm release, written once. Each Foundation states only what differs: the
controller's peers and ports (`IngressControllerFlows`) and its own chart values (the WAF: Cloud Armor in front on
GCP, ModSecurity + CRS inside on plain Kubernetes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.workloads.charts import INGRESS_NGINX
from components.workloads.namespaces import NAMES
from components.workloads.network import API, KUBE_API_PORTS, dns_egress, network_policy, ns_peer, tcp

INGRESS_NAMESPACE = "ingress-nginx"
# Pod labels the ingress-nginx chart gives the controller.
INGRESS_CONTROLLER_POD = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
# The chart's validating admission webhook port (its default, set explicitly so the policies and firewalls match).
INGRESS_WEBHOOK_PORT = 8443


def ingress_namespace(name: str, labels: Mapping[str, str], opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
    """The controller's namespace, `f"{name}-ingress-namespace"`. The controller drops every capability but
    NET_BIND_SERVICE (it binds ports below 1024): baseline, not restricted."""
    return k8s.core.v1.Namespace(
        f"{name}-ingress-namespace",
        metadata={"name": INGRESS_NAMESPACE, "labels": {**labels, "pod-security.kubernetes.io/enforce": "baseline"}},
        opts=opts,
    )


def ingress_nginx_release(
    name: str,
    *,
    ingress_class: str,
    controller: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    common_labels: Mapping[str, str] | None = None,
) -> k8s.helm.v3.Release:
    """The pinned chart as `f"{name}-ingress-nginx"`, serving `ingress_class` (not the cluster's default), its
    admission webhook on `INGRESS_WEBHOOK_PORT`; `controller` adds the Foundation's own controller values and
    `common_labels` labels every object of the chart."""
    values: dict[str, Any] = {
        "controller": {
            "ingressClassResource": {"name": ingress_class, "default": False},
            "admissionWebhooks": {"port": INGRESS_WEBHOOK_PORT},
            **controller,
        }
    }
    if common_labels is not None:
        values["commonLabels"] = dict(common_labels)
    return INGRESS_NGINX.release(f"{name}-ingress-nginx", INGRESS_NAMESPACE, values, opts)


@dataclass(frozen=True)
class IngressControllerFlows:
    """Who may talk to an ingress controller in its own namespace, and whom it may talk to."""

    namespace: str
    """The controller's namespace (it gets a default deny in both directions)."""
    public_from: Sequence[Mapping[str, Any]]
    """Peers the public traffic arrives from: `ANYWHERE` behind a plain load balancer or host ports, the load
    balancer's own ranges where the cloud documents them."""
    public_ports: Sequence[int]
    """The controller's HTTP (and HTTPS, where it terminates TLS itself) ports."""
    api_port: int
    """The API's container port: the controller proxies straight to the API's pods (it balances over endpoints)."""
    kube_api: Sequence[Mapping[str, Any]]
    """Peers of the Kubernetes API server (the controller's watches and leader election, the chart's webhook
    certificate jobs): `ANYWHERE` when its address is not known to the program, the private endpoint's CIDR when it
    is."""
    kube_api_ports: Sequence[int] = KUBE_API_PORTS
    """The API server's ports."""
    webhook_from: Sequence[Mapping[str, Any]] = ()
    """Peers of the API server calling the controller's validating admission webhook; empty: no webhook allowed."""
    webhook_port: int = INGRESS_WEBHOOK_PORT
    """The admission webhook's port (the chart's `controller.admissionWebhooks.port`)."""
    controller_pods: Mapping[str, str] = field(default_factory=lambda: dict(INGRESS_CONTROLLER_POD))
    """Pod labels of the controller."""

    def __post_init__(self) -> None:
        if not self.namespace:
            raise ValueError("IngressControllerFlows.namespace must not be empty")
        if not self.public_from or not self.public_ports:
            raise ValueError(f"IngressControllerFlows({self.namespace}): public_from and public_ports must be given")
        if not self.kube_api or not self.kube_api_ports:
            raise ValueError(f"IngressControllerFlows({self.namespace}): kube_api and kube_api_ports must be given")
        if not self.controller_pods:
            raise ValueError(f"IngressControllerFlows({self.namespace}): controller_pods must select the controller")


def ingress_controller_policies(
    prefix: str,
    flows: IngressControllerFlows,
    *,
    opts: pulumi.ResourceOptions,
    labels: Mapping[str, str] | None = None,
) -> dict[str, k8s.networking.v1.NetworkPolicy]:
    """Default deny in the controller's namespace, then exactly the controller's flows, as `f"{prefix}-<name>"`
    children of `opts`' parent: `default-deny`, `allow-dns`, `allow-kube-api` (every pod: the chart's jobs need it
    too) and `controller` (public traffic and the webhook in; the API's pods out)."""
    ns = flows.namespace

    def policy(suffix: str, pods: Mapping[str, str], **rules: Any) -> k8s.networking.v1.NetworkPolicy:
        return network_policy(f"{prefix}-{suffix}", ns, suffix, pods, labels=labels, opts=opts, **rules)

    controller_in: list[dict[str, Any]] = [
        {"from": [dict(p) for p in flows.public_from], "ports": tcp(*flows.public_ports)}
    ]
    if flows.webhook_from:
        controller_in.append({"from": [dict(p) for p in flows.webhook_from], "ports": tcp(flows.webhook_port)})
    return {
        "default-deny": policy("default-deny", {}, ingress=[], egress=[], types=["Ingress", "Egress"]),
        "allow-dns": policy("allow-dns", {}, egress=[dns_egress()]),
        "allow-kube-api": policy(
            "allow-kube-api",
            {},
            egress=[{"to": [dict(p) for p in flows.kube_api], "ports": tcp(*flows.kube_api_ports)}],
        ),
        "controller": policy(
            "controller",
            flows.controller_pods,
            ingress=controller_in,
            egress=[{"to": [ns_peer(NAMES.app, API)], "ports": tcp(flows.api_port)}],
        ),
    }
