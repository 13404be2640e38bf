"""MLflow tracking server and registry: internal only, artifacts in the artifact bucket via workload identity.

The schema migration (`mlflow db upgrade`) runs as a Job named after the image, and the Deployment depends on it:
a new version rolls out only after its migration has completed (Pulumi waits for the Job).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import MlflowConfig, Ports
from components.foundations.contract import BucketRef, WorkloadIdentity
from components.workloads.namespaces import NAMES
from components.workloads.network import MIGRATIONS, MLFLOW
from components.workloads.postgres import DATABASE_ANNOTATION
from components.workloads.security import (
    container_security_context,
    pod_security_context,
    resources,
    tmp_volume,
    zone_spread,
)
from components.workloads.service import http_service

SERVICE_ACCOUNT = "mlflow"
TOKEN_SECRET = "mlflow-token"  # noqa: S105 - the Secret's name
"""The Secret holding the token MLflow asks every caller for."""


@dataclass(frozen=True)
class MlflowArgs:
    config: MlflowConfig
    """Validated settings."""
    ports: Ports
    """The port map."""
    image: pulumi.Input[str]
    """Pinned MLflow image (images/mlflow/Dockerfile)."""
    database_url: pulumi.Output[str]
    """SQLAlchemy URL of MLflow's database (secret)."""
    artifact_bucket: BucketRef | None
    """Bucket for artifacts; None keeps them on a volume."""
    identity: WorkloadIdentity | None
    """Workload identity for `maestro/mlflow`, the only identity that reaches the artifact bucket."""
    storage_class: str
    """StorageClass for the artifact volume when there is no bucket."""
    database_cluster: str
    """Name of the `postgresql` cluster `database_url` points at. It names the migration Job and annotates the pod
    template, so switching the endpoint reruns the migration against that cluster and restarts the pods (they read
    the URL from their Secret only at start)."""


def _suffix(image: str) -> str:
    return hashlib.sha256(image.encode()).hexdigest()[:8]


class Mlflow(pulumi.ComponentResource):
    """Exposes `url`, the in-cluster address the API uses, and `token`, the credential it must send (a secret)."""

    def __init__(self, name: str, args: MlflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Mlflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        port = args.ports.mlflow
        ns = NAMES.app
        labels = dict(MLFLOW)
        self.url = f"http://mlflow.{ns}.svc.cluster.local:{port}"

        identity = args.identity
        k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": SERVICE_ACCOUNT,
                "namespace": ns,
                "annotations": dict(identity.annotations) if identity else {},
            },
            opts=child,
        )
        db_secret = k8s.core.v1.Secret(
            f"{name}-db",
            metadata={"name": "mlflow-db", "namespace": ns},
            string_data={"uri": args.database_url},
            opts=child,
        )
        db_env = {
            "name": "MLFLOW_BACKEND_STORE_URI",
            "valueFrom": {"secretKeyRef": {"name": "mlflow-db", "key": "uri"}},
        }
        tmp, tmp_mount = tmp_volume(size="512Mi")
        common_env: list[dict[str, Any]] = [db_env, {"name": "HOME", "value": "/tmp"}]  # noqa: S108 - emptyDir
        volumes: list[dict[str, Any]] = [tmp]
        mounts: list[dict[str, Any]] = [tmp_mount]
        bucket = args.artifact_bucket
        if bucket is not None:
            destination: pulumi.Input[str] = bucket.url.apply(lambda u: f"{u}/mlflow")
            if bucket.scheme == "s3":
                common_env.append({"name": "AWS_REGION", "value": bucket.region})
                if bucket.kms_key_id is not None:
                    common_env.append(
                        {
                            "name": "MLFLOW_S3_UPLOAD_EXTRA_ARGS",
                            "value": bucket.kms_key_id.apply(
                                lambda k: f'{{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "{k}"}}'
                            ),
                        }
                    )
        else:
            destination = "/mlartifacts"
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-artifacts",
                metadata={"name": "mlflow-artifacts", "namespace": ns},
                spec={
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": args.storage_class,
                    "resources": {"requests": {"storage": "20Gi"}},
                },
                opts=child,
            )
            volumes.append({"name": "artifacts", "persistentVolumeClaim": {"claimName": "mlflow-artifacts"}})
            mounts.append({"name": "artifacts", "mountPath": "/mlartifacts"})

        # The only credential MLflow accepts: the maestro-auth app (images/mlflow/maestro_mlflow_auth) refuses every
        # request without it, so a pod that reaches MLflow past the NetworkPolicy still gets nothing. The API sends it.
        self.token = random.RandomPassword(f"{name}-token", length=48, special=False, opts=child).result
        k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": TOKEN_SECRET, "namespace": ns},
            string_data={"token": self.token},
            opts=child,
        )
        token_env = {
            "name": "MAESTRO_MLFLOW_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": TOKEN_SECRET, "key": "token"}},
        }
        db_annotation = {DATABASE_ANNOTATION: args.database_cluster}
        pod_spec_base: dict[str, Any] = {
            "serviceAccountName": SERVICE_ACCOUNT,
            "securityContext": pod_security_context(),
            "volumes": volumes,
        }
        migrate = k8s.batch.v1.Job(
            f"{name}-migrate",
            metadata={
                "name": pulumi.Output.from_input(args.image).apply(
                    lambda i: f"mlflow-migrate-{_suffix(f'{i}@{args.database_cluster}')}"
                ),
                "namespace": ns,
            },
            spec={
                "backoffLimit": 3,
                "ttlSecondsAfterFinished": 86400,
                "template": {
                    "metadata": {"labels": {**labels, **MIGRATIONS}, "annotations": db_annotation},
                    "spec": {
                        **pod_spec_base,
                        "restartPolicy": "Never",
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "migrate",
                                "image": args.image,
                                "command": ["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"],
                                "env": common_env,
                                "resources": resources("100m", "256Mi"),
                                "securityContext": container_security_context(),
                                "volumeMounts": mounts,
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[db_secret]),
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": "mlflow", "namespace": ns, "labels": labels},
            spec={
                "replicas": args.config.replicas,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    # The identity's pod labels (Azure Workload ID's webhook acts only on labelled pods) join the
                    # selector's labels here only: the selector stays the same on every cloud.
                    "metadata": {
                        "labels": {**(dict(identity.pod_labels) if identity else {}), **labels},
                        "annotations": db_annotation,
                    },
                    "spec": {
                        **pod_spec_base,
                        "topologySpreadConstraints": zone_spread(labels),
                        "containers": [
                            {
                                "name": "mlflow",
                                "image": args.image,
                                "command": ["mlflow", "server"],
                                "args": [
                                    "--app-name",
                                    "maestro-auth",
                                    "--host",
                                    "0.0.0.0",  # noqa: S104 - inside the pod; NetworkPolicy limits callers
                                    "--port",
                                    str(port),
                                    "--backend-store-uri",
                                    "$(MLFLOW_BACKEND_STORE_URI)",
                                    "--serve-artifacts",
                                    "--artifacts-destination",
                                    destination,
                                    # The API scopes each tenant to its own workspace (docs/registry.md).
                                    "--enable-workspaces",
                                    # Sync gunicorn workers: measured 2-4x the throughput of the uvicorn default.
                                    "--gunicorn-opts",
                                    f"--workers {args.config.workers} --timeout 60",
                                ],
                                "env": [*common_env, token_env],
                                "ports": [{"name": "http", "containerPort": port}],
                                "resources": resources("500m", "2Gi"),
                                "securityContext": container_security_context(),
                                # Every HTTP path asks for the token, which a probe would have to carry in the pod spec
                                # in the clear: the probes check that the server accepts connections.
                                "startupProbe": {
                                    "tcpSocket": {"port": "http"},
                                    "periodSeconds": 5,
                                    "failureThreshold": 60,
                                },
                                "livenessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 10},
                                "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                                "volumeMounts": mounts,
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[migrate]),
        )
        http_service(name, "mlflow", ns, labels, port, child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": "mlflow", "namespace": ns},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
            opts=child,
        )
        self.register_outputs({"url": self.url, "token": self.token})
