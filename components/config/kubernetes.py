"""`maestro:kubernetes`: the plain-Kubernetes Foundation (kind, k3s, on-prem): an existing cluster."""

from __future__ import annotations

from typing import ClassVar

from components.config.base import EnvironmentDefaults, TargetConfig


class KubernetesConfig(TargetConfig):
    """The plain-Kubernetes Foundation (kind, k3s, on-prem)."""

    no_registry: ClassVar[str] = "plain Kubernetes has no registry to push to; set false and a registry"

    context: str | None = None
    """kubeconfig context to deploy to; None uses the current context."""
    storage_class: str = "standard"
    """StorageClass for volumes."""
    ingress_class: str = "nginx"
    """IngressClass of the ingress controller (ingress-nginx with ModSecurity + OWASP CRS)."""


DEFAULTS: EnvironmentDefaults = {"dev": {}, "prod": {}}
