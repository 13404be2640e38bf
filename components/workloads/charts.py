"""The Helm charts the platform installs, each pinned in one row, and the one shape of their releases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class Chart:
    """A Helm chart at a pinned version."""

    name: str
    """The chart's name; its release is named the same."""
    version: str
    """The pinned chart version."""
    repo: str
    """The chart repository's URL."""

    def release(
        self, resource_name: str, namespace: pulumi.Input[str], values: Mapping[str, Any], opts: pulumi.ResourceOptions
    ) -> k8s.helm.v3.Release:
        """The release of this chart in `namespace`, as the Pulumi child `resource_name`."""
        return k8s.helm.v3.Release(
            resource_name,
            name=self.name,
            chart=self.name,
            version=self.version,
            namespace=namespace,
            repository_opts={"repo": self.repo},
            values=values,
            opts=opts,
        )


POSTGRES_OPERATOR = Chart(
    "postgres-operator", "1.14.0", "https://opensource.zalando.com/postgres-operator/charts/postgres-operator"
)
KUBE_PROMETHEUS_STACK = Chart("kube-prometheus-stack", "75.15.1", "https://prometheus-community.github.io/helm-charts")
JAEGER = Chart("jaeger", "3.4.1", "https://jaegertracing.github.io/helm-charts")
INGRESS_NGINX = Chart("ingress-nginx", "4.13.3", "https://kubernetes.github.io/ingress-nginx")
EKS_CHARTS = "https://aws.github.io/eks-charts"
"""The AWS Load Balancer Controller's repository; its version is the AWS config's
`alb_controller_chart_version`."""
