"""MaestroPlatform = the target's Foundation (looked up in foundations/table.py) + the cloud-agnostic workloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.config import MaestroConfig, Ports
from components.foundations.contract import FoundationArgs, FoundationOutputs, IdentityRequest
from components.foundations.table import FOUNDATIONS
from components.workloads.api import Api, ApiArgs
from components.workloads.images import Images, ImagesArgs, ImageSource
from components.workloads.mlflow import SERVICE_ACCOUNT as MLFLOW_SA
from components.workloads.mlflow import Mlflow, MlflowArgs
from components.workloads.namespaces import NAMES, Namespaces
from components.workloads.network import NetworkArgs, NetworkPolicies
from components.workloads.observability import Observability, ObservabilityArgs
from components.workloads.postgres import SERVICE_ACCOUNT as POSTGRES_SA
from components.workloads.postgres import Postgres, PostgresArgs, role_urls
from components.workloads.redis import Redis, RedisArgs
from config.network import Matrix

# The service accounts that touch a bucket, and the only bucket each may reach.
IDENTITIES = {
    "postgres-backup": IdentityRequest(namespace=NAMES.data, service_account=POSTGRES_SA, bucket="backup"),
    "mlflow": IdentityRequest(namespace=NAMES.app, service_account=MLFLOW_SA, bucket="artifact"),
}


@dataclass(frozen=True)
class RepositoryFiles:
    """The checkout's files the workloads read or build. __main__.py names them: components never locate the
    checkout themselves."""

    dashboards_dir: Path
    """Generated Grafana dashboards, one ConfigMap each (dashboards/generated)."""
    rules_dir: Path
    """Prometheus rule files, one PrometheusRule each (dashboards/rules)."""
    alertmanager_file: Path | None
    """Alertmanager's configuration (dashboards/alertmanager/alertmanager.yml)."""
    api_image: ImageSource
    """Where the API image is built from (app/Dockerfile)."""
    mlflow_image: ImageSource
    """Where the MLflow image is built from (images/mlflow/)."""


@dataclass(frozen=True)
class PlatformArgs:
    config: MaestroConfig
    """The validated stack config."""
    ports: Ports
    """The port map (config/ports.yaml)."""
    files: RepositoryFiles
    """The checkout's dashboards, rules and Dockerfiles."""
    matrix: Matrix
    """The network matrix (config/network.yaml), which the NetworkPolicies express."""


def common_labels(tags: Mapping[str, str]) -> pulumi.ResourceTransform:
    """Adds the ownership labels to every Kubernetes object of the workloads (AWS resources get them as the
    provider's default tags). The engine runs a component's transforms on every descendant; Helm releases are left
    alone (their chart's objects are labelled through values, where a Foundation needs it)."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.type_.startswith("kubernetes:") or args.type_.startswith("kubernetes:helm"):
            return None
        metadata = args.props.get("metadata")
        if not isinstance(metadata, dict):
            return None
        labels = metadata.get("labels") or {}
        if not isinstance(labels, dict):
            return None
        props = {**args.props, "metadata": {**metadata, "labels": {**tags, **labels}}}
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


class MaestroPlatform(pulumi.ComponentResource):
    """Exposes `foundation` (FoundationOutputs), `api_url`, `grafana_url`, and `stack_outputs` (the workloads'
    stack outputs by name: `postgresCluster`, `postgresClusterUid`, and `postgresRestoreCluster` when restoring)."""

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:index:Platform", name, None, opts)
        cfg = args.config
        self.foundation = FOUNDATIONS[cfg.cloud](
            f"{name}-{cfg.cloud}",
            FoundationArgs(config=cfg, ports=args.ports, identities=IDENTITIES),
            pulumi.ResourceOptions(parent=self),
        )
        self.workloads = Workloads(
            f"{name}-workloads",
            args,
            self.foundation,
            opts=pulumi.ResourceOptions(
                parent=self,
                providers=[self.foundation.k8s_provider],
                depends_on=list(self.foundation.ready),
                # Foundations label their own objects; the workloads get the ownership labels here.
                transforms=[common_labels(args.config.common_tags)],
            ),
        )
        self.api_url = self.workloads.api.url
        self.grafana_url = self.workloads.observability.grafana_url
        self.stack_outputs = self.workloads.stack_outputs
        self.register_outputs({"api_url": self.api_url, "cluster_name": self.foundation.cluster_name})


class Workloads(pulumi.ComponentResource):
    """Everything inside the cluster; takes only FoundationOutputs (children inherit its Kubernetes provider)."""

    def __init__(
        self, name: str, args: PlatformArgs, foundation: FoundationOutputs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("maestro:kubernetes:Workloads", name, None, opts)
        cfg, ports = args.config, args.ports
        namespaces = Namespaces(f"{name}-namespaces", opts=pulumi.ResourceOptions(parent=self))
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=list(namespaces.namespaces.values()))
        NetworkPolicies(
            f"{name}-network",
            NetworkArgs(
                ports=ports,
                matrix=args.matrix,
                ingress_peers=foundation.ingress_peers,
                service_cidrs=foundation.service_cidrs,
                managed_redis_port=foundation.redis.port if foundation.redis is not None else None,
                in_cluster_redis=foundation.redis is None,
                api_internet_egress=cfg.api.oidc_issuer is not None,
            ),
            opts=after_ns,
        )
        images = Images(
            f"{name}-images",
            ImagesArgs(
                config=cfg.images,
                registry=foundation.registry,
                api=args.files.api_image,
                mlflow=args.files.mlflow_image,
            ),
            opts=after_ns,
        )
        self.observability = Observability(
            f"{name}-observability",
            ObservabilityArgs(
                config=cfg.observability,
                ports=ports,
                storage_class=foundation.storage_class,
                dashboards_dir=args.files.dashboards_dir,
                rules_dir=args.files.rules_dir,
                alertmanager_file=args.files.alertmanager_file,
            ),
            opts=after_ns,
        )
        backup = foundation.backup_bucket
        postgres = Postgres(
            f"{name}-postgres",
            PostgresArgs(
                config=cfg.postgres,
                ports=ports,
                storage_class=foundation.storage_class,
                backup_bucket=backup,
                identity=foundation.identity("postgres-backup") if backup is not None else None,
                restore=cfg.restore,
            ),
            opts=after_ns,
        )
        if foundation.redis is not None:
            managed = foundation.redis
            redis_url = _redis_url(managed.password, managed.host, managed.port, tls=managed.tls)
        else:
            redis = Redis(
                f"{name}-redis",
                RedisArgs(config=cfg.redis, ports=ports, storage_class=foundation.storage_class),
                opts=after_ns,
            )
            redis_url = _redis_url(redis.password, redis.host, redis.port, tls=False)
        artifact = foundation.artifact_bucket
        mlflow = Mlflow(
            f"{name}-mlflow",
            MlflowArgs(
                config=cfg.mlflow,
                ports=ports,
                image=images.mlflow,
                database_url=postgres.url("mlflow", "mlflow", driver="psycopg2"),
                artifact_bucket=artifact,
                identity=foundation.identity("mlflow") if artifact is not None else None,
                storage_class=foundation.storage_class,
                database_cluster=postgres.cluster_name,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[postgres.cluster]),
        )
        urls = role_urls(postgres)
        self.api = Api(
            f"{name}-api",
            ApiArgs(
                config=cfg.api,
                environment=cfg.environment,
                ports=ports,
                image=images.api,
                database_url=urls["MAESTRO_DATABASE_URL"],
                database_owner_url=urls["MAESTRO_DATABASE_OWNER_URL"],
                redis_url=redis_url,
                mlflow_url=mlflow.url,
                mlflow_token=mlflow.token,
                otlp_endpoint=self.observability.otlp_endpoint,
                ingress_class=foundation.ingress_class,
                ingress_annotations=foundation.ingress_annotations,
                database_cluster=postgres.cluster_name,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[postgres.cluster]),
        )
        # The cluster the platform's database URLs point at (and its object's UID, which WAL-G's backup path holds,
        # so a later restore needs no --source-uid), and the restore clone when there is one.
        self.stack_outputs: dict[str, pulumi.Input[str | None]] = {
            "postgresCluster": postgres.cluster_name,
            "postgresClusterUid": postgres.cluster_uid,
        }
        if postgres.restore_cluster is not None:
            self.stack_outputs["postgresRestoreCluster"] = postgres.restore_cluster
        self.register_outputs({"api_url": self.api.url, **self.stack_outputs})


def _redis_url(password: pulumi.Input[str], host: pulumi.Input[str], port: int, *, tls: bool) -> pulumi.Output[str]:
    """The API's Redis URL, a secret: `rediss://` where the server speaks TLS."""
    scheme = "rediss" if tls else "redis"
    return pulumi.Output.secret(
        pulumi.Output.all(password, host).apply(lambda v: f"{scheme}://:{v[0]}@{v[1]}:{port}/0")
    )
