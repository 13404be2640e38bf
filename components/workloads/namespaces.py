"""The platform's namespaces, each labelled for Pod Security Admission."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.workloads.security import PssLevel, pss_labels


@dataclass(frozen=True)
class NamespaceNames:
    """Where each part runs."""

    app: str = "maestro"
    """API, MLflow, in-cluster Redis: restricted."""
    data: str = "maestro-data"
    """The Postgres cluster. Baseline enforced, restricted audited/warned: the operator writes Spilo's pod spec
    and cannot drop all capabilities or set a seccomp profile, both of which restricted requires."""
    system: str = "maestro-system"
    """postgres-operator: restricted."""
    monitoring: str = "monitoring"
    """kube-prometheus-stack and Jaeger: restricted."""
    node_exporter: str = "maestro-node-exporter"
    """node-exporter alone: privileged, because it reads the host's /proc and /sys with hostPID/hostNetwork."""


NAMES = NamespaceNames()

LEVELS: dict[str, PssLevel] = {
    NAMES.app: "restricted",
    NAMES.data: "baseline",
    NAMES.system: "restricted",
    NAMES.monitoring: "restricted",
    NAMES.node_exporter: "privileged",
}


class Namespaces(pulumi.ComponentResource):
    """Creates every namespace with its Pod Security labels."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Namespaces", name, None, opts)
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for ns, level in LEVELS.items():
            self.namespaces[ns] = k8s.core.v1.Namespace(
                f"{name}-{ns}",
                metadata={"name": ns, "labels": {**pss_labels(level), "app.kubernetes.io/part-of": "maestro"}},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"namespaces": list(self.namespaces)})
