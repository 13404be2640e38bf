"""Redis on plain Kubernetes: one StatefulSet member with AUTH (clouds use their managed Redis instead).

The password comes from pulumi-random and reaches the pod only through a Secret. Traffic stays inside the
namespace's NetworkPolicy (only the API may connect); TLS is left to the managed offerings.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import Ports, RedisConfig
from components.workloads.namespaces import NAMES
from components.workloads.network import REDIS
from components.workloads.observability import service_monitor
from components.workloads.security import container_security_context, pod_security_context, resources

REDIS_IMAGE = "redis:7.2.7-alpine"
EXPORTER_IMAGE = "oliver006/redis_exporter:v1.74.0-alpine"
REDIS_UID = 999  # the `redis` user of the official image
EXPORTER_PROBE_PATH = "/"  # redis_exporter's index page (see the exporter container's probes)


@dataclass(frozen=True)
class RedisArgs:
    config: RedisConfig
    """Validated Redis settings."""
    ports: Ports
    """The port map."""
    storage_class: str
    """StorageClass for the data volume."""


class Redis(pulumi.ComponentResource):
    """Exposes `host`, `port`, `password` (secret) and `tls` (False)."""

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Redis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        port = args.ports.redis
        self.host: pulumi.Output[str] = pulumi.Output.from_input(f"redis.{NAMES.app}.svc.cluster.local")
        self.port = port
        self.tls = False
        self.password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child).result
        secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata={"name": "redis-auth", "namespace": NAMES.app},
            string_data={"password": self.password},
            opts=child,
        )
        password_env = {"valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password"}}}
        labels = dict(REDIS)
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": "redis", "namespace": NAMES.app, "labels": labels},
            spec={
                "selector": labels,
                "ports": [{"name": "redis", "port": port}, {"name": "metrics", "port": args.ports.redis_exporter}],
            },
            opts=child,
        )
        k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": "redis", "namespace": NAMES.app, "labels": labels},
            spec={
                "serviceName": "redis",
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(REDIS_UID),
                        "containers": [
                            {
                                "name": "redis",
                                "image": REDIS_IMAGE,
                                "command": ["redis-server"],
                                # $(REDIS_PASSWORD) is expanded by the kubelet from the Secret-backed variable.
                                "args": [
                                    "--port",
                                    str(port),
                                    "--requirepass",
                                    "$(REDIS_PASSWORD)",
                                    "--appendonly",
                                    "yes",
                                    "--dir",
                                    "/data",
                                ],
                                "env": [{"name": "REDIS_PASSWORD", **password_env}],
                                "ports": [{"name": "redis", "containerPort": port}],
                                "resources": resources("100m", "256Mi"),
                                "securityContext": container_security_context(),
                                "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10},
                                "readinessProbe": {
                                    "exec": {"command": ["sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" ping']},
                                    "periodSeconds": 5,
                                },
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            },
                            {
                                "name": "exporter",
                                "image": EXPORTER_IMAGE,
                                "env": [
                                    {"name": "REDIS_PASSWORD", **password_env},
                                    {"name": "REDIS_ADDR", "value": f"redis://localhost:{port}"},
                                ],
                                "ports": [{"name": "metrics", "containerPort": args.ports.redis_exporter}],
                                "resources": resources("25m", "32Mi"),
                                "securityContext": container_security_context(),
                                # "/" is the exporter's static index page: it answers without touching Redis, so
                                # the probes follow the exporter alone (/metrics would scrape Redis on every probe,
                                # and the redis container's own probes already cover Redis).
                                "livenessProbe": {
                                    "httpGet": {"path": EXPORTER_PROBE_PATH, "port": "metrics"},
                                    "periodSeconds": 10,
                                },
                                "readinessProbe": {
                                    "httpGet": {"path": EXPORTER_PROBE_PATH, "port": "metrics"},
                                    "periodSeconds": 10,
                                },
                            },
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": args.storage_class,
                            "resources": {"requests": {"storage": args.config.volume_size}},
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )
        service_monitor(f"{name}-monitor", "redis", NAMES.app, labels, "metrics", parent=self)
        self.register_outputs({"host": self.host, "port": port})
