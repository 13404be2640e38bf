"""PostgreSQL HA: the Zalando postgres-operator and one `postgresql` cluster (Spilo: Patroni + WAL-G inside).

- Members spread across zones (operator-enforced anti-affinity on topology.kubernetes.io/zone); the operator keeps
  a PodDisruptionBudget for the cluster (a second, hand-made PDB would make evictions fail, so we switch the
  operator's on explicitly instead).
- WAL-G archives WAL continuously and takes base backups on a schedule into the backup bucket, authenticated by
  the Foundation's workload identity on the `postgres-pod` service account: no static keys anywhere.
- Role passwords are generated here (pulumi-random, secret outputs) and handed to the operator by pre-creating
  its credential Secrets, which it adopts instead of generating its own; the same values build the connection
  URLs the API and MLflow receive through their own Secrets.
- `restore` adds a second `postgresql` object next to the live one: a point-in-time clone of a backed-up cluster
  (the operator's `clone`, honoured only when an object is created), with its own credential Secrets. The live
  cluster's resources keep their names and inputs. `config.endpoint` picks which cluster's Service and passwords
  the URLs use, so switching to the clone is one config change, and switching back another.
- Credentials of the clone: the restored data carries the source's roles with the source's password hashes, but
  the operator syncs every manifest role's password to the role's Secret of *this* cluster (it alters a role whose
  password differs from its Secret: postgres-operator pkg/util/users, "passwords get reset" on clones since
  zalando/postgres-operator#974). So the clone's URLs use the clone's own generated passwords, and the live
  cluster's passwords are never copied or shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import POSTGRES_CLUSTER, POSTGRES_TEAM, Ports, PostgresConfig, RestoreConfig
from components.foundations.contract import BucketRef, WorkloadIdentity
from components.workloads.charts import POSTGRES_OPERATOR
from components.workloads.namespaces import NAMES
from components.workloads.network import POSTGRES
from components.workloads.observability import service_monitor
from components.workloads.security import container_security_context, resources

EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
CLUSTER = POSTGRES_CLUSTER
SERVICE_ACCOUNT = "postgres-pod"
# Pod-template annotation of the database's clients (API, MLflow) naming the cluster their URLs point at: a switch of
# endpoint changes their pod templates, so they restart and read the new URL from their Secrets.
DATABASE_ANNOTATION = "maestro.dev/database-cluster"
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
    """When set, a second cluster `restore.cluster_name` is created as a point-in-time clone of
    `restore.source_cluster`, next to the live one."""


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


def credentials_secret_name(role: str, cluster: str = CLUSTER) -> str:
    """The operator's naming for a role's Secret (underscores are not allowed in names)."""
    return f"{role.replace('_', '-')}.{cluster}.credentials.postgresql.acid.zalan.do"


def service_host(cluster: str) -> str:
    """The cluster's primary Service (the operator names it after the cluster)."""
    return f"{cluster}.{NAMES.data}.svc.cluster.local"


class Postgres(pulumi.ComponentResource):
    """Exposes `host`, `port`, `passwords` (secret outputs by role) and `url(role, database)`, all for the cluster
    `config.endpoint` selects (name `cluster_name`, object `cluster`, its UID `cluster_uid`); `clusters` holds every
    `postgresql` object by name, `restore_cluster` the clone's name or None."""

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:Postgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.config.endpoint == "restore" and args.restore is None:
            raise ValueError("maestro:postgres.endpoint: 'restore' needs maestro:restore (there is no clone)")
        self.port = args.ports.postgres

        self.operator = POSTGRES_OPERATOR.release(
            f"{name}-operator", NAMES.system, self._operator_values(args.identity), child
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

        # The live cluster keeps the child names it always had (same URNs: nothing is replaced); the clone's children
        # carry `-restore` in their names.
        live_passwords, live = self._cluster(name, CLUSTER, args, clone=None)
        self.clusters: dict[str, k8s.apiextensions.CustomResource] = {CLUSTER: live}
        self.restore_cluster: str | None = None
        self.cluster_name: str = CLUSTER
        passwords = live_passwords
        if args.restore is not None:
            self.restore_cluster = args.restore.cluster_name
            clone_passwords, clone = self._cluster(f"{name}-restore", self.restore_cluster, args, clone=args.restore)
            self.clusters[self.restore_cluster] = clone
            if args.config.endpoint == "restore":
                self.cluster_name, passwords = self.restore_cluster, clone_passwords

        # The object the endpoint points at: the API and MLflow wait for it; its UID is the source of a later restore.
        self.cluster = self.clusters[self.cluster_name]
        self.cluster_uid: pulumi.Output[str | None] = self.cluster.metadata.apply(_uid)
        self.host = service_host(self.cluster_name)
        self.passwords: dict[str, pulumi.Output[str]] = passwords

        service_monitor(
            f"{name}-monitor",
            "postgres",
            NAMES.data,
            {"app.kubernetes.io/name": "postgres-exporter"},
            "metrics",
            parent=self,
        )
        self.register_outputs(
            {"host": self.host, "port": self.port, "cluster": self.cluster_name, "restoreCluster": self.restore_cluster}
        )

    def _cluster(
        self, prefix: str, cluster: str, args: PostgresArgs, *, clone: RestoreConfig | None
    ) -> tuple[dict[str, pulumi.Output[str]], k8s.apiextensions.CustomResource]:
        """One `postgresql` object with its role Secrets (pre-created, so the operator adopts our passwords) and
        its exporter's metrics Service; returns the passwords by role and the object."""
        child = pulumi.ResourceOptions(parent=self)
        pod_labels = dict(args.identity.pod_labels) if args.identity is not None else {}
        passwords: dict[str, pulumi.Output[str]] = {}
        secrets = []
        for role in ROLES:
            password = random.RandomPassword(
                f"{prefix}-{role.replace('_', '-')}-password", length=40, special=False, opts=child
            )
            passwords[role] = password.result
            secrets.append(
                k8s.core.v1.Secret(
                    f"{prefix}-{role.replace('_', '-')}-credentials",
                    metadata={
                        "name": credentials_secret_name(role, cluster),
                        "namespace": NAMES.data,
                        "labels": {"application": "spilo", "cluster-name": cluster, "team": POSTGRES_TEAM},
                    },
                    string_data={"username": role, "password": password.result},
                    opts=child,
                )
            )

        obj = k8s.apiextensions.CustomResource(
            f"{prefix}-cluster",
            api_version="acid.zalan.do/v1",
            kind="postgresql",
            # The identity's pod labels reach the Spilo pods through the operator's `inherited_labels`.
            metadata={"name": cluster, "namespace": NAMES.data, "labels": {**pod_labels, "team": POSTGRES_TEAM}},
            spec=self.manifest(args, clone=clone),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.operator, *secrets]),
        )

        k8s.core.v1.Service(
            f"{prefix}-metrics",
            metadata={
                "name": f"{cluster}-metrics",
                "namespace": NAMES.data,
                "labels": {"app.kubernetes.io/name": "postgres-exporter"},
            },
            spec={
                "selector": {**POSTGRES, "cluster-name": cluster},
                "ports": [{"name": "metrics", "port": args.ports.postgres_exporter}],
                "clusterIP": "None",
            },
            opts=child,
        )
        return passwords, obj

    def url(self, role: str, database: str, *, driver: str = "psycopg") -> pulumi.Output[str]:
        """A SQLAlchemy URL for `role` on the endpoint's cluster (a secret output); TLS is required (Spilo serves a
        certificate)."""
        password: pulumi.Output[str] = pulumi.Output.secret(self.passwords[role])
        host = self.host
        return password.apply(
            lambda pw: f"postgresql+{driver}://{role}:{pw}@{host}:{self.port}/{database}?sslmode=require"
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
    def manifest(args: PostgresArgs, *, clone: RestoreConfig | None = None) -> dict[str, Any]:
        """The `postgresql` spec, of the live cluster or (with `clone`) of the restore clone; a static method so
        tests can check it for any config. The clone archives and backs up like the live cluster, under its own
        path in the bucket (WAL-G's path holds the cluster's name and UID), so it can become the live one."""
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
        if clone is not None:
            if args.backup_bucket is None:
                raise ValueError("maestro:restore: restoring needs a backup bucket (this Foundation has none)")
            spec["clone"] = {"cluster": clone.source_cluster, "uid": clone.source_uid, "timestamp": clone.timestamp}
            spec["env"] = env + walg_env(args.backup_bucket, prefix="CLONE_")
        return spec


def role_urls(pg: Postgres) -> Mapping[str, pulumi.Output[str]]:
    """The URLs the API needs (owner for migrations, service role at runtime)."""
    return {
        "MAESTRO_DATABASE_URL": pg.url("maestro_app", "maestro"),
        "MAESTRO_DATABASE_OWNER_URL": pg.url("maestro_owner", "maestro"),
    }


def _uid(metadata: Any) -> str | None:
    """metadata.uid of a Kubernetes object's state (None until the API server has assigned it)."""
    if metadata is None:
        return None
    uid = metadata.get("uid") if isinstance(metadata, Mapping) else getattr(metadata, "uid", None)
    return str(uid) if uid else None
