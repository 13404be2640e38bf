"""The platform's port map, config/ports.yaml: the only place port numbers live (Pulumi and Ansible read it)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict


class Ports(BaseModel):
    """The port map; snake_case keys as in the file."""

    model_config = ConfigDict(extra="allow", frozen=True)
    api: int
    mlflow: int
    postgres: int
    patroni_rest: int
    redis: int
    https: int
    http: int
    prometheus: int
    alertmanager: int
    grafana: int
    node_exporter: int
    postgres_exporter: int
    redis_exporter: int
    jaeger_ui: int
    otlp_grpc: int
    otlp_http: int


def load_ports(path: Path) -> Ports:
    """Read the port map at `path` (config/ports.yaml; __main__.py knows where the checkout keeps it)."""
    return Ports.model_validate(yaml.safe_load(path.read_text()))
