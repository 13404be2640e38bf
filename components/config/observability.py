"""`maestro:observability`: kube-prometheus-stack and Jaeger."""

from __future__ import annotations

from components.config.base import EnvironmentDefaults, Model


class ObservabilityConfig(Model):
    """kube-prometheus-stack and Jaeger."""

    retention: str = "15d"
    """Prometheus retention."""
    volume_size: str = "50Gi"
    """Prometheus volume."""
    grafana_hostname: str | None = None
    """Host name for Grafana behind the ingress; None keeps Grafana internal (port-forward)."""


# Dev keeps less history on a smaller volume; prod takes the model's defaults.
DEFAULTS: EnvironmentDefaults = {"dev": {"retention": "3d", "volumeSize": "10Gi"}, "prod": {}}
