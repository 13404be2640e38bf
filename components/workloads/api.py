"""The Maestro API: migration Job, Deployment (probes on /healthz and /readyz), Service, HPA, PDB, and the ingress
that carries the Foundation's WAF attachment. Settings reach the pods as MAESTRO_* variables (docs/interfaces.md);
secret ones only through a Secret.

Three Secrets, one per holder: `maestro-api` (the serving pods: service-role URL, Redis, pepper, audit key,
MLflow token), `maestro-api-migrate` (the migration Job only: the table owner's URL, which the serving pods never
get) and `maestro-api-metrics` (the token /metrics asks for: the pods and Prometheus's ServiceMonitor). The ingress
publishes only /v1 and /mlflow, as the edge does on hosts."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import ApiConfig, Ports
from components.workloads.namespaces import NAMES
from components.workloads.network import API, MIGRATIONS
from components.workloads.observability import service_monitor
from components.workloads.postgres import DATABASE_ANNOTATION, ROLES
from components.workloads.security import (
    container_security_context,
    pod_security_context,
    resources,
    tmp_volume,
    zone_spread,
)
from components.workloads.service import http_service

SECRET = "maestro-api"  # noqa: S105 - the name of the Kubernetes Secret, not a secret
MIGRATE_SECRET = "maestro-api-migrate"  # noqa: S105 - a Secret's name
METRICS_SECRET = "maestro-api-metrics"  # noqa: S105 - a Secret's name
METRICS_TOKEN_KEY = "token"  # noqa: S105 - the key of the token in METRICS_SECRET
SERVICE_ROLE = ROLES[1]  # the API's service role of postgres.ROLES (owner, service, MLflow): migrations grant to it
PUBLISHED_PATHS = ("/v1", "/mlflow")  # the rest (/metrics, /readyz, /healthz, /openapi.json) stays in the cluster


@dataclass(frozen=True)
class ApiArgs:
    config: ApiConfig
    """Validated settings."""
    environment: str
    """MAESTRO_ENVIRONMENT."""
    ports: Ports
    """The port map."""
    image: pulumi.Input[str]
    """Pinned API image (app/Dockerfile)."""
    database_url: pulumi.Output[str]
    """Service-role URL (secret)."""
    database_owner_url: pulumi.Output[str]
    """Table-owner URL for migrations (secret)."""
    redis_url: pulumi.Output[str]
    """Redis URL with the AUTH password (secret)."""
    mlflow_url: str
    """In-cluster MLflow URL."""
    mlflow_token: pulumi.Input[str]
    """The token MLflow asks for (a secret output of the Mlflow component)."""
    otlp_endpoint: str
    """OTLP gRPC endpoint of Jaeger."""
    ingress_class: str
    """The Foundation's IngressClass."""
    ingress_annotations: Mapping[str, pulumi.Input[str]]
    """The Foundation's annotations (load balancer, WAF attachment)."""
    database_cluster: str
    """Name of the `postgresql` cluster the database URLs point at. It names the migration Job and annotates the pod
    template, so switching the endpoint reruns the migration against that cluster and restarts the pods (they read
    the URLs from their Secret only at start)."""


class Api(pulumi.ComponentResource):
    """Exposes `ingress` (its status carries the load balancer's address) and `url`."""

    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Api", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        ns = NAMES.app
        port = args.ports.api
        labels = dict(API)

        pepper = random.RandomPassword(f"{name}-pepper", length=48, special=False, opts=child)
        audit_key = random.RandomPassword(f"{name}-audit-key", length=48, special=False, opts=child)
        metrics_token = random.RandomPassword(f"{name}-metrics-token", length=48, special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": SECRET, "namespace": ns},
            string_data={
                "MAESTRO_DATABASE_URL": args.database_url,
                "MAESTRO_REDIS_URL": args.redis_url,
                "MAESTRO_API_KEY_PEPPER": pepper.result,
                "MAESTRO_AUDIT_KEY": audit_key.result,
                "MAESTRO_MLFLOW_TOKEN": args.mlflow_token,
            },
            opts=child,
        )
        migrate_secret = k8s.core.v1.Secret(
            f"{name}-migrate-secret",
            metadata={"name": MIGRATE_SECRET, "namespace": ns},
            string_data={"MAESTRO_DATABASE_OWNER_URL": args.database_owner_url},
            opts=child,
        )
        metrics_secret = k8s.core.v1.Secret(
            f"{name}-metrics-secret",
            metadata={"name": METRICS_SECRET, "namespace": ns},
            string_data={METRICS_TOKEN_KEY: metrics_token.result},
            opts=child,
        )
        plain_env: dict[str, str] = {
            "MAESTRO_ENVIRONMENT": args.environment,
            "MAESTRO_MLFLOW_URL": args.mlflow_url,
            "MAESTRO_OTLP_ENDPOINT": args.otlp_endpoint,
            "MAESTRO_RATE_LIMIT_FAILURE_MODE": cfg.rate_limit_failure_mode,
            # Tenants' artifacts go through MLflow's artifact proxy: only MLflow holds the bucket identity.
            "MAESTRO_ARTIFACT_ROOT": "mlflow-artifacts:/tenants",
        }
        if cfg.oidc_issuer:
            plain_env["MAESTRO_OIDC_ISSUER"] = cfg.oidc_issuer
        if cfg.oidc_audience:
            plain_env["MAESTRO_OIDC_AUDIENCE"] = cfg.oidc_audience
        metrics_env = {
            "name": "MAESTRO_METRICS_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": METRICS_SECRET, "key": METRICS_TOKEN_KEY}},
        }
        env = [*({"name": k, "value": v} for k, v in sorted(plain_env.items())), metrics_env]
        tmp, tmp_mount = tmp_volume()
        pod_base: dict[str, Any] = {
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(),
            "volumes": [tmp],
        }
        container_base: dict[str, Any] = {
            "image": args.image,
            "securityContext": container_security_context(),
            "volumeMounts": [tmp_mount],
        }
        migrate_env = {"MAESTRO_ENVIRONMENT": args.environment, "MAESTRO_DATABASE_SERVICE_ROLE": SERVICE_ROLE}
        migrate = k8s.batch.v1.Job(
            f"{name}-migrate",
            metadata={
                "name": pulumi.Output.from_input(args.image).apply(
                    lambda i: (
                        "maestro-api-migrate-" + hashlib.sha256(f"{i}@{args.database_cluster}".encode()).hexdigest()[:8]
                    )
                ),
                "namespace": ns,
            },
            spec={
                "backoffLimit": 3,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {
                        "labels": {"app.kubernetes.io/name": "maestro-api-migrate", **MIGRATIONS},
                        "annotations": {DATABASE_ANNOTATION: args.database_cluster},
                    },
                    "spec": {
                        **pod_base,
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                **container_base,
                                "name": "migrate",
                                "command": ["maestro-api", "migrate"],
                                "env": [{"name": k, "value": v} for k, v in sorted(migrate_env.items())],
                                "envFrom": [{"secretRef": {"name": MIGRATE_SECRET}}],
                                "resources": resources("100m", "256Mi"),
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[migrate_secret]),
        )
        probe = {"port": "http"}
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": "maestro-api", "namespace": ns, "labels": labels},
            spec={
                "selector": {"matchLabels": labels},
                # replicas are the HPA's; the first rollout starts at the minimum.
                "replicas": cfg.min_replicas,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {DATABASE_ANNOTATION: args.database_cluster}},
                    "spec": {
                        **pod_base,
                        "topologySpreadConstraints": zone_spread(labels),
                        "terminationGracePeriodSeconds": 30,
                        "containers": [
                            {
                                **container_base,
                                "name": "api",
                                "env": env,
                                "envFrom": [{"secretRef": {"name": SECRET}}],
                                "command": [
                                    "maestro-api",
                                    "serve",
                                    "--host",
                                    "0.0.0.0",  # noqa: S104 - pod only
                                    "--port",
                                    str(port),
                                    "--workers",
                                    str(cfg.workers),
                                ],
                                "ports": [{"name": "http", "containerPort": port}],
                                "resources": resources("250m", "512Mi"),
                                "startupProbe": {
                                    "httpGet": {"path": "/healthz", **probe},
                                    "periodSeconds": 2,
                                    "failureThreshold": 30,
                                },
                                "livenessProbe": {"httpGet": {"path": "/healthz", **probe}, "periodSeconds": 10},
                                "readinessProbe": {"httpGet": {"path": "/readyz", **probe}, "periodSeconds": 5},
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[migrate, secret, metrics_secret], ignore_changes=["spec.replicas"]
            ),
        )
        http_service(name, "maestro-api", ns, labels, port, child)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": "maestro-api", "namespace": ns},
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "maestro-api"},
                "minReplicas": cfg.min_replicas,
                "maxReplicas": cfg.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": cfg.target_cpu_percent},
                        },
                    }
                ],
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": "maestro-api", "namespace": ns},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
            opts=child,
        )
        rule: dict[str, Any] = {
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "maestro-api", "port": {"name": "http"}}},
                    }
                    for path in PUBLISHED_PATHS
                ]
            }
        }
        if cfg.hostname:
            rule["host"] = cfg.hostname
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={"name": "maestro-api", "namespace": ns, "annotations": dict(args.ingress_annotations)},
            spec={"ingressClassName": args.ingress_class, "rules": [rule]},
            opts=child,
        )
        self.url: pulumi.Output[str] = self.ingress.status.apply(_url(cfg.hostname))
        service_monitor(
            f"{name}-monitor",
            "maestro-api",
            ns,
            labels,
            "http",
            parent=self,
            bearer_secret=(METRICS_SECRET, METRICS_TOKEN_KEY),
        )
        self.register_outputs({"url": self.url})


def _url(hostname: str | None) -> Any:
    def pick(status: Any) -> str:
        if hostname:
            return f"https://{hostname}"
        try:
            lb = status.load_balancer.ingress[0]
            return f"http://{lb.hostname or lb.ip}"
        except (AttributeError, IndexError, TypeError):
            return "(assigned by the load balancer after deployment)"

    return pick
