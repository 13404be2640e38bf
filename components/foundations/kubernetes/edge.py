"""The public edge of a plain cluster: ingress-nginx with ModSecurity and the OWASP Core Rule Set, in a default-deny
namespace."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.config import Ports
from components.foundations.ingress_nginx import (
    INGRESS_NAMESPACE,
    IngressControllerFlows,
    ingress_controller_policies,
    ingress_namespace,
    ingress_nginx_release,
)
from components.workloads.network import ANYWHERE
from components.workloads.security import container_security_context, resources


def modsecurity_ingress(
    name: str,
    *,
    ingress_class: str,
    block: bool,
    ports: Ports,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """The controller's namespace, its policies and the release; `block` turns the CRS engine on, otherwise it
    runs detection-only. `opts` carries the parent and the cluster's provider."""
    namespace = ingress_namespace(name, labels, opts)
    in_namespace = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    # Default deny in the controller's namespace, like the platform's own. The controller gets the world on
    # HTTP/HTTPS (kind's host ports or a plain load balancer: no fixed source range), the API server for its
    # watches and leader election and, calling back, its admission webhook (the API server's address is not
    # known to the program here), and behind it only the API's pods.
    ingress_controller_policies(
        f"{name}-ingress",
        IngressControllerFlows(
            namespace=INGRESS_NAMESPACE,
            public_from=ANYWHERE,
            public_ports=(ports.http, ports.https),
            api_port=ports.api,
            kube_api=ANYWHERE,
            webhook_from=ANYWHERE,
        ),
        labels=labels,
        opts=in_namespace,
    )
    engine = "On" if block else "DetectionOnly"
    return ingress_nginx_release(
        name,
        ingress_class=ingress_class,
        controller={
            "resources": resources("100m", "256Mi"),
            "containerSecurityContext": {
                **container_security_context(read_only_root=False),
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                "runAsUser": 101,
            },
            "config": {
                "enable-modsecurity": "true",
                "enable-owasp-modsecurity-crs": "true",
                # JSON bodies are inspected only with the JSON body processor (docs/architecture.md).
                "modsecurity-snippet": (
                    f"SecRuleEngine {engine}\n"
                    "SecRequestBodyAccess On\n"
                    'SecRule REQUEST_HEADERS:Content-Type "^application/(?:.+\\+)?json" '
                    '"id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"\n'
                ),
            },
        },
        opts=in_namespace,
    )
