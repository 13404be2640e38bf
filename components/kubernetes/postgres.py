"""PostgreSQL HA: the Zalando postgres-operator and one `postgresql` cluster (Spilo: Patroni + WAL-G inside).

- Members spread across zones (operator-enforced anti-affinity on topology.kubernetes.io/zone); the operator keeps
  a PodDisruptionBudget for the cluster (a second, hand-made PDB would make evictions fail, so we switch the
  operator's on explicitly instead).
- WAL-G archives WAL continuously and takes base backups on a schedule into the backup bucket, authenticated by
  the Foundation's workload identity on the `postgres-pod` service account: no static keys anywhere.
- Role passwords are generated here (pulumi-random, secret outputs) and handed to the operator by pre-creating
  its credential Secrets, which it adopts instead of generating its own; the same values build the connection
  URLs the API and MLflow receive through their own Secrets.
- `restore` turns the manifest into a point-in-time clone of a backed-up cluster (the operator's `clone`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import Ports, PostgresConfig, RestoreConfig
from components.foundation import BucketRef, WorkloadIdentity
from components.kubernetes.namespaces import NAMES
from components.kubernetes.network import POSTGRES
from components.kubernetes.observability import service_monitor
from components.kubernetes.security import container_security_context, resources

OPERATOR_CHART = "postgres-operator"
OPERATOR_CHART_VERSION = "1.14.0"
OPERATOR_REPO = "https://opensource.zalando.com/postgres-operator/charts/postgres-operator"
EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
CLUSTER = "maestro-pg"
SERVICE_ACCOUNT = "postgres-pod"
# Spilo's postgres user and group inside the image.
SPILO_UID, SPILO_GID = 101, 103
# Roles: the API's table owner (migrations), the API's service role (no DDL, RLS applies), MLflow's owner.
ROLES = ("maestro_owner", "maestro_app", "mlflow")
DATABASES = {"maestro": "maestro_owner", "mlflow": "mlflow"}


@dataclass(frozen=True)
class PostgresArgs:
    config: PostgresConfig
    """Validated Postgres settings."""
    ports: Ports
    """The port map."""
    storage_class: str
    """StorageClass for the data volumes."""
    backup_bucket: BucketRef | None
    """Where WAL-G writes; None disables archiving (local clusters only)."""
    identity: WorkloadIdentity | None
    """The workload identity for `maestro-data/postgres-pod`; None when there is no bucket."""
    restore: RestoreConfig | None
    """When set, the cluster is created as a point-in-time clone of `restore.source_cluster`."""


def walg_env(bucket: BucketRef, *, prefix: str = "") -> list[dict[str, Any]]:
    """Spilo's WAL-G variables for the bucket's store; `prefix` is `CLONE_` for the restore source."""
    env: list[dict[str, Any]] = [{"name": f"{prefix}USE_WALG_RESTORE", "value": "true"}]
    if bucket.scheme == "s3":
        env += [
            {"name": f"{prefix}WAL_S3_BUCKET", "value": bucket.name},
            {"name": f"{prefix}AWS_REGION", "value": bucket.region},
        ]
        if bucket.kms_key_id is not None:
            env += [
                {"name": f"{prefix}WALG_S3_SSE", "value": "aws:kms"},
                {"name": f"{prefix}WALG_S3_SSE_KMS_ID", "value": bucket.kms_key_id},
            ]
    elif bucket.scheme == "gs":
        env.append({"name": f"{prefix}WAL_GS_BUCKET", "value": bucket.name})
    else:
        env.append({"name": f"{prefix}WAL_AZ_BUCKET", "value": bucket.name})
    return env


def credentials_secret_name(role: str) -> str:
    """The operator's naming for a role's Secret (underscores are not allowed in names)."""
    return f"{role.replace('_', '-')}.{CLUSTER}.credentials.postgresql.acid.zalan.do"


class Postgres(pulumi.ComponentResource):
    """Exposes `host`, `port`, `passwords` (secret outputs by role) and `url(role, database)`."""

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Postgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.host = f"{CLUSTER}.{NAMES.data}.svc.cluster.local"
        self.port = args.ports.postgres

        self.operator = k8s.helm.v3.Release(
            f"{name}-operator",
            name="postgres-operator",
            chart=OPERATOR_CHART,
            version=OPERATOR_CHART_VERSION,
            namespace=NAMES.system,
            repository_opts={"repo": OPERATOR_REPO},
            values=self._operator_values(args.identity),
            opts=child,
        )

        if args.identity is not None:
            k8s.core.v1.ServiceAccount(
                f"{name}-sa",
                metadata={
                    "name": SERVICE_ACCOUNT,
                    "namespace": NAMES.data,
                    "annotations": dict(args.identity.annotations),
                    "labels": dict(args.identity.pod_labels),
                },
                opts=child,
            )

        pod_labels = dict(args.identity.pod_labels) if args.identity is not None else {}
        self.passwords: dict[str, pulumi.Output[str]] = {}
        secrets = []
        for role in ROLES:
            password = random.RandomPassword(
                f"{name}-{role.replace('_', '-')}-password", length=40, special=False, opts=child
            )
            self.passwords[role] = password.result
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-{role.replace('_', '-')}-credentials",
                    metadata={
                        "name": credentials_secret_name(role),
                        "namespace": NAMES.data,
                        "labels": {"application": "spilo", "cluster-name": CLUSTER, "team": "maestro"},
                    },
                    string_data={"username": role, "password": password.result},
                    opts=child,
                )
            )

        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="acid.zalan.do/v1",
            kind="postgresql",
            # The identity's pod labels reach the Spilo pods through the operator's `inherited_labels`.
            metadata={"name": CLUSTER, "namespace": NAMES.data, "labels": {**pod_labels, "team": "maestro"}},
            spec=self.manifest(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.operator, *secrets]),
        )

        k8s.core.v1.Service(
            f"{name}-metrics",
            metadata={
                "name": f"{CLUSTER}-metrics",
                "namespace": NAMES.data,
                "labels": {"app.kubernetes.io/name": "postgres-exporter"},
            },
            spec={
                "selector": {**POSTGRES, "cluster-name": CLUSTER},
                "ports": [{"name": "metrics", "port": args.ports.postgres_exporter}],
                "clusterIP": "None",
            },
            opts=child,
        )
        service_monitor(
            f"{name}-monitor",
            "postgres",
            NAMES.data,
            {"app.kubernetes.io/name": "postgres-exporter"},
            "metrics",
            parent=self,
        )
        self.register_outputs({"host": self.host, "port": self.port})

    def url(self, role: str, database: str, *, driver: str = "psycopg") -> pulumi.Output[str]:
        """A SQLAlchemy URL for `role` (a secret output); TLS is required (Spilo serves a certificate)."""
        password: pulumi.Output[str] = pulumi.Output.secret(self.passwords[role])
        return password.apply(
            lambda pw: f"postgresql+{driver}://{role}:{pw}@{self.host}:{self.port}/{database}?sslmode=require"
        )

    def _operator_values(self, identity: WorkloadIdentity | None) -> dict[str, Any]:
        return {
            "configKubernetes": {
                # Labels the Spilo pods copy from the cluster manifest: the workload identity's pod labels (Azure
                # Workload ID mounts the federated token only into pods labelled azure.workload.identity/use).
                "inherited_labels": sorted(identity.pod_labels) if identity is not None else [],
                "watched_namespace": NAMES.data,
                "enable_pod_antiaffinity": True,
                "pod_antiaffinity_topology_key": "topology.kubernetes.io/zone",
                "enable_pod_disruption_budget": True,
                "pod_service_account_name": SERVICE_ACCOUNT,
                "spilo_privileged": False,
                "spilo_allow_privilege_escalation": False,
                "spilo_runasuser": SPILO_UID,
                "spilo_runasgroup": SPILO_GID,
                "spilo_fsgroup": SPILO_GID,
                "enable_cross_namespace_secret": False,
            },
            "configPostgresPodResources": {"min_cpu_limit": "250m", "min_memory_limit": "250Mi"},
            "podLabels": {"app.kubernetes.io/name": "postgres-operator"},
            "resources": resources("100m", "256Mi", cpu_limit="500m"),
            "securityContext": container_security_context(),
            "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        }

    @staticmethod
    def manifest(args: PostgresArgs) -> dict[str, Any]:
        """The `postgresql` spec (a static method so tests can check it for any config)."""
        cfg = args.config
        env: list[dict[str, Any]] = []
        if args.backup_bucket is not None:
            env += walg_env(args.backup_bucket)
            env += [
                {"name": "USE_WALG_BACKUP", "value": "true"},
                {"name": "BACKUP_SCHEDULE", "value": cfg.backup_schedule},
                # One base backup a day: keeping N of them keeps N days of point-in-time recovery.
                {"name": "BACKUP_NUM_TO_RETAIN", "value": str(cfg.backup_retention_days)},
            ]
        patroni: dict[str, Any] = {"synchronous_mode": cfg.synchronous}
        if cfg.synchronous:
            # Strict mode would stop writes when the last replica is down; availability wins, zero-loss
            # failover is still guaranteed among the synchronous members.
            patroni["synchronous_mode_strict"] = False
        spec: dict[str, Any] = {
            "teamId": "maestro",
            "numberOfInstances": cfg.instances,
            "postgresql": {
                "version": cfg.version,
                "parameters": {"password_encryption": "scram-sha-256", "ssl": "on", "log_connections": "on"},
            },
            "patroni": patroni,
            "volume": {"size": cfg.volume_size, "storageClass": args.storage_class},
            "resources": resources(cfg.cpu, cfg.memory),
            "users": {role: [] for role in ROLES},
            "databases": dict(DATABASES),
            "spiloRunAsUser": SPILO_UID,
            "spiloRunAsGroup": SPILO_GID,
            "spiloFSGroup": SPILO_GID,
            "env": env,
            "sidecars": [
                {
                    "name": "exporter",
                    "image": EXPORTER_IMAGE,
                    "ports": [{"name": "metrics", "containerPort": args.ports.postgres_exporter}],
                    "env": [
                        {
                            "name": "DATA_SOURCE_URI",
                            "value": f"localhost:{args.ports.postgres}/postgres?sslmode=require",
                        },
                        # The operator gives sidecars POSTGRES_USER/POSTGRES_PASSWORD of the superuser.
                        {"name": "DATA_SOURCE_USER", "value": "$(POSTGRES_USER)"},
                        {"name": "DATA_SOURCE_PASS", "value": "$(POSTGRES_PASSWORD)"},
                    ],
                    "resources": resources("50m", "64Mi"),
                    "securityContext": container_security_context(),
                }
            ],
        }
        if args.restore is not None:
            if args.backup_bucket is None:
                raise ValueError("maestro:restore: restoring needs a backup bucket (this Foundation has none)")
            spec["clone"] = {
                "cluster": args.restore.source_cluster,
                "uid": args.restore.source_uid,
                "timestamp": args.restore.timestamp,
            }
            spec["env"] = env + walg_env(args.backup_bucket, prefix="CLONE_")
        return spec


def role_urls(pg: Postgres) -> Mapping[str, pulumi.Output[str]]:
    """The URLs the API needs (owner for migrations, service role at runtime)."""
    return {
        "MAESTRO_DATABASE_URL": pg.url("maestro_app", "maestro"),
        "MAESTRO_DATABASE_OWNER_URL": pg.url("maestro_owner", "maestro"),
    }
