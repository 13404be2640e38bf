"""Observability: kube-prometheus-stack (Prometheus, Alertmanager, Grafana) and Jaeger as Helm releases, plus our
dashboards and rules (one ConfigMap per dashboard, one PrometheusRule per rule file; the directories __main__.py
names are globbed when the program runs, so a new dashboard needs no code change)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components.config import ObservabilityConfig, Ports
from components.workloads.charts import JAEGER, KUBE_PROMETHEUS_STACK
from components.workloads.namespaces import NAMES
from components.workloads.security import container_security_context, pod_security_context, resources

RELEASE = KUBE_PROMETHEUS_STACK.name
# The label Prometheus selects ServiceMonitors and PrometheusRules by.
SELECTOR = {"release": RELEASE}


def service_monitor(
    resource_name: str,
    name: str,
    namespace: str,
    selector: Mapping[str, str],
    port: str,
    *,
    parent: pulumi.Resource,
    path: str = "/metrics",
    bearer_secret: tuple[str, str] | None = None,
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor scraping `port` of the Services matching `selector`; with `bearer_secret` (a Secret's name
    and key, in `namespace`) Prometheus sends that token as `Authorization: Bearer`."""
    endpoint: dict[str, Any] = {"port": port, "path": path, "interval": "30s"}
    if bearer_secret is not None:
        secret, key = bearer_secret
        endpoint["authorization"] = {"type": "Bearer", "credentials": {"name": secret, "key": key}}
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata={"name": name, "namespace": namespace, "labels": dict(SELECTOR)},
        spec={
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [endpoint],
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _slug(path: Path) -> str:
    return path.stem.lower().replace("_", "-").replace(".", "-")


@dataclass(frozen=True)
class ObservabilityArgs:
    config: ObservabilityConfig
    """Validated settings."""
    ports: Ports
    """The port map."""
    storage_class: str
    """StorageClass for Prometheus and Alertmanager volumes."""
    dashboards_dir: Path
    """Where the generated dashboard JSON files are (one ConfigMap each): dashboards/generated."""
    rules_dir: Path
    """Where the Prometheus rule files are (one PrometheusRule each): dashboards/rules."""
    alertmanager_file: Path | None
    """Alertmanager's configuration (dashboards/alertmanager/alertmanager.yml); None or an absent file keeps the
    chart's."""


class Observability(pulumi.ComponentResource):
    """Exposes `grafana_url`, `otlp_endpoint`, `dashboards` and `rules` (the created resources)."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ports = args.ports
        ns = NAMES.monitoring
        self.grafana_url = f"http://{RELEASE}-grafana.{ns}.svc.cluster.local"
        # The API exports spans over OTLP/HTTP (opentelemetry-exporter-otlp-proto-http), to the traces path.
        self.otlp_endpoint = f"http://jaeger-collector.{ns}.svc.cluster.local:{ports.otlp_http}/v1/traces"

        self.grafana_password = random.RandomPassword(
            f"{name}-grafana-password", length=32, special=False, opts=child
        ).result
        admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": "grafana-admin", "namespace": ns},
            string_data={"admin-user": "admin", "admin-password": self.grafana_password},
            opts=child,
        )
        self.stack = KUBE_PROMETHEUS_STACK.release(
            f"{name}-kube-prometheus-stack",
            ns,
            self._kps_values(args),
            pulumi.ResourceOptions(parent=self, depends_on=[admin]),
        )
        self.jaeger = JAEGER.release(
            f"{name}-jaeger",
            ns,
            {
                "provisionDataStore": {"cassandra": False},
                "allInOne": {
                    "enabled": True,
                    "podLabels": {"app.kubernetes.io/name": "jaeger"},
                    "resources": resources("100m", "512Mi"),
                    "podSecurityContext": pod_security_context(),
                    "securityContext": container_security_context(),
                },
                "storage": {"type": "memory"},
                "agent": {"enabled": False},
                "collector": {"enabled": False},
                "query": {"enabled": False},
            },
            child,
        )
        after_stack = pulumi.ResourceOptions(parent=self, depends_on=[self.stack])
        self.dashboards = [
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{_slug(path)}",
                metadata={
                    "name": f"dashboard-{_slug(path)}",
                    "namespace": ns,
                    "labels": {"grafana_dashboard": "1"},
                },
                data={path.name: path.read_text()},
                opts=child,
            )
            for path in sorted(args.dashboards_dir.glob("*.json"))
        ]
        self.rules = [
            k8s.apiextensions.CustomResource(
                f"{name}-rules-{_slug(path)}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": _slug(path), "namespace": ns, "labels": dict(SELECTOR)},
                spec={"groups": (yaml.safe_load(path.read_text()) or {}).get("groups", [])},
                opts=after_stack,
            )
            for path in sorted(args.rules_dir.glob("*.yml"))
        ]
        self.register_outputs(
            {"grafana_url": self.grafana_url, "dashboards": len(self.dashboards), "rules": len(self.rules)}
        )

    @staticmethod
    def _kps_values(args: ObservabilityArgs) -> dict[str, Any]:
        storage = {
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": args.storage_class,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": args.config.volume_size}},
                }
            }
        }
        pod_sc = pod_security_context(65534)
        values: dict[str, Any] = {
            "prometheus": {
                "prometheusSpec": {
                    "retention": args.config.retention,
                    "storageSpec": storage,
                    "resources": resources("500m", "2Gi"),
                    "securityContext": pod_sc,
                    # Pick up every ServiceMonitor/PrometheusRule labelled for this release, in any namespace.
                    "serviceMonitorSelector": {"matchLabels": SELECTOR},
                    "ruleSelector": {"matchLabels": SELECTOR},
                    "serviceMonitorNamespaceSelector": {},
                    "ruleNamespaceSelector": {},
                }
            },
            "alertmanager": {
                "alertmanagerSpec": {
                    "storage": storage,
                    "resources": resources("50m", "128Mi"),
                    "securityContext": pod_sc,
                }
            },
            "grafana": {
                "admin": {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"},
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "label": "grafana_dashboard",
                        "labelValue": "1",
                        "searchNamespace": "ALL",
                    }
                },
                "resources": resources("100m", "256Mi"),
                "securityContext": pod_security_context(472),
                "containerSecurityContext": container_security_context(),
            },
            "prometheusOperator": {
                "resources": resources("100m", "256Mi"),
                "securityContext": pod_security_context(65534),
                "containerSecurityContext": container_security_context(),
            },
            "kube-state-metrics": {
                "resources": resources("50m", "128Mi"),
                "securityContext": pod_security_context(65534),
                "containerSecurityContext": container_security_context(),
            },
            # node-exporter needs the host's namespaces: it alone runs in the privileged namespace.
            "prometheus-node-exporter": {
                "namespaceOverride": NAMES.node_exporter,
                "resources": resources("50m", "64Mi"),
            },
        }
        if args.alertmanager_file is not None and args.alertmanager_file.is_file():
            values["alertmanager"]["config"] = yaml.safe_load(args.alertmanager_file.read_text())
        return values
