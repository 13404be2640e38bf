"""The GCP Foundation: VPC, private GKE, Cloud KMS, GCS buckets, Memorystore, Cloud Armor and workload identity.

How the WAF reaches the API. Cloud Armor attaches to a GKE load balancer's backend through a BackendConfig that the
*Service* names (GKE ignores that annotation on an Ingress), and the BackendConfig must live in the Service's
namespace. The workloads' contract (`FoundationOutputs`) carries ingress annotations only, so the Foundation owns
the whole public edge itself:

    GCE Ingress (global static IP, FrontendConfig: SSL policy, HTTPS redirect, managed certificate)
      -> ingress-nginx controller Service (NEG, BackendConfig: Cloud Armor policy, request logging)
        -> the API's Ingress (class `nginx`) -> the API Service

Every byte that reaches the API has passed the Cloud Armor policy; the API's Ingress needs no annotation.

The `ingress-nginx` namespace is default-deny like the workloads' namespaces. The controller may receive only what
the load balancer sends (Google Front Ends and their health checks, from `GFE_RANGES`, straight to the pods through
the NEG) and the control plane's admission-webhook calls; it may send only to the API's pods, cluster DNS and the
control plane.

Access to the buckets is logged as Cloud Audit Logs Data Access (DATA_READ, DATA_WRITE) for Cloud Storage in the
project, the current form of GCS access logs (usage logs into a log bucket are the legacy one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.cloud_common import CloudFoundation, CloudFoundationArgs, foundation_args
from components.config import MaestroConfig, Ports
from components.config.gcp import GcpConfig, dual_region_location
from components.foundation import (
    BucketPurpose,
    BucketRef,
    FoundationOutputs,
    IdentityRequest,
    RedisEndpoint,
    WorkloadIdentity,
)
from components.gcp.waf import armor_rules
from components.kubernetes.foundation import INGRESS_NAMESPACE, INGRESS_NGINX_CHART_VERSION, INGRESS_NGINX_REPO
from components.kubernetes.network import (
    INGRESS_WEBHOOK_PORT,
    IngressControllerFlows,
    ingress_controller_policies,
)

# Memorystore serves TLS on 6378, a port fixed by the service (config/ports.yaml's redis port is ours, not theirs).
MEMORYSTORE_TLS_PORT = 6378
# Where Google Front Ends and their health checks reach backends from (documented, fixed ranges).
GFE_RANGES = ("130.211.0.0/22", "35.191.0.0/16")
# The ingress-nginx namespace, chart version and repository are the plain-Kubernetes Foundation's (imported above):
# one place to upgrade the controller on both.
INGRESS_CLASS = "nginx"
# Cloud Audit Logs Data Access for Cloud Storage: every object read and write in the project is logged.
STORAGE_AUDIT_LOG_TYPES = ("DATA_READ", "DATA_WRITE")
WAF_BACKEND_CONFIG = "maestro-waf"
FRONTEND_CONFIG = "maestro-edge"
STORAGE_CLASS = "maestro-cmek"
# One key per purpose, so each service agent can use only its own key and each key can be revoked alone.
KEY_PURPOSES = ("cluster", "storage", "redis", "disk")
# The Google service agents that encrypt with the keys (service-<project number>@<domain>).
SERVICE_AGENTS: dict[str, str] = {
    "cluster": "container-engine-robot.iam.gserviceaccount.com",
    "storage": "gs-project-accounts.iam.gserviceaccount.com",
    "redis": "cloud-redis.iam.gserviceaccount.com",
    "disk": "compute-system.iam.gserviceaccount.com",
}
BUCKET_OBJECT_ROLE = "roles/storage.objectUser"  # read, write, list and delete objects; no bucket or IAM admin
NODE_ROLE = "roles/container.defaultNodeServiceAccount"  # logging, monitoring, metadata: what a node needs


@dataclass(frozen=True)
class GcpFoundationArgs(CloudFoundationArgs[GcpConfig]):
    """The common Foundation args (components/cloud_common.py) plus the API's host name. On GCP the tags are labels,
    the WAF is Cloud Armor (`count` previews its rules) and the backup retention is the bucket's retention policy."""

    api_hostname: str | None = None
    """The API's public host name: gets a Google-managed certificate and HTTPS only; None serves HTTP (dev)."""


class GcpFoundation(CloudFoundation[GcpFoundationArgs]):
    """Exposes `outputs: FoundationOutputs`, plus `network`, `cluster`, `buckets`, `keys`, `armor` for tests."""

    def __init__(self, name: str, args: GcpFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:gcp:Foundation", name, args, opts)
        self._cfg = cfg = args.config

        self._network()
        self._keys()
        self._cluster()
        self._buckets()
        self._redis()
        self._provider_and_edge()
        identities = self._identities()

        def ref(purpose: BucketPurpose) -> BucketRef:
            return BucketRef(
                scheme="gs",
                name=self.buckets[purpose].name,
                region=cfg.region,
                kms_key_id=self.keys["storage"].id,
            )

        self.outputs = FoundationOutputs(
            cloud="gcp",
            k8s_provider=self.k8s_provider,
            cluster_name=self.cluster.name,
            kubeconfig=pulumi.Output.secret(self.kubeconfig),
            storage_class=STORAGE_CLASS,
            ingress_class=INGRESS_CLASS,
            # The WAF sits in front of the ingress controller (see the module docstring): nothing to annotate.
            ingress_annotations={},
            ingress_peers=[{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}}],
            service_cidrs=(cfg.redis_cidr,),
            backup_bucket=ref("backup"),
            artifact_bucket=ref("artifact"),
            identities=identities,
            key_ids={purpose: key.id for purpose, key in self.keys.items()},
            waf_id=self.armor.id,
            redis=RedisEndpoint(
                host=self.redis.host,
                port=MEMORYSTORE_TLS_PORT,
                password=pulumi.Output.secret(self.redis.auth_string),
                tls=True,
            ),
            registry=None,
            ready=[self.node_pool, self.ingress_controller],
            extra_outputs={
                "gcpNetwork": self.network.name,
                "gcpIngressAddress": self.address.address,
                "gcpRedisCaCerts": self.redis.server_ca_certs.apply(
                    lambda certs: "\n".join(c.cert or "" for c in certs or [])
                ),
            },
        )
        self.register_outputs({"cluster_name": self.cluster.name, "waf_id": self.armor.id, "network": self.network.id})

    # --- network -------------------------------------------------------------------------------------------

    def _network(self) -> None:
        name, cfg = self._base_name, self._cfg
        self.network = gcp.compute.Network(
            f"{name}-network",
            project=cfg.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=self._child,
        )
        self.subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            project=cfg.project,
            region=cfg.region,
            network=self.network.id,
            ip_cidr_range=cfg.subnet_cidr,
            secondary_ip_ranges=[
                {"range_name": "pods", "ip_cidr_range": cfg.pods_cidr},
                {"range_name": "services", "ip_cidr_range": cfg.services_cidr},
            ],
            # Nodes have no public IPs; Google APIs (GCS, KMS, Artifact Registry) over the private path.
            private_ip_google_access=True,
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": cfg.flow_log_sampling,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=self._child,
        )
        router = gcp.compute.Router(
            f"{name}-router", project=cfg.project, region=cfg.region, network=self.network.id, opts=self._child
        )
        self.nat = gcp.compute.RouterNat(
            f"{name}-nat",
            project=cfg.project,
            region=cfg.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=self._child,
        )

    # --- keys ----------------------------------------------------------------------------------------------

    def _keys(self) -> None:
        name, cfg = self._base_name, self._cfg
        ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            project=cfg.project,
            location=cfg.region,
            name=f"maestro-{self._args.environment}",
            opts=self._protected,  # key rings cannot be deleted; protect them in prod like the keys
        )
        self.keys: dict[str, gcp.kms.CryptoKey] = {}
        # A service agent must hold its key before the service can encrypt with it: dependents wait for these.
        self._grants: list[pulumi.Resource] = []
        for purpose in KEY_PURPOSES:
            key = gcp.kms.CryptoKey(
                f"{name}-key-{purpose}",
                key_ring=ring.id,
                name=f"maestro-{purpose}",
                purpose="ENCRYPT_DECRYPT",
                rotation_period=f"{cfg.key_rotation_days * 86400}s",
                version_template={"algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "protection_level": "SOFTWARE"},
                labels=self._tags,
                opts=self._protected,
            )
            grant = gcp.kms.CryptoKeyIAMMember(
                f"{name}-key-{purpose}-agent",
                crypto_key_id=key.id,
                role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member=f"serviceAccount:service-{cfg.project_number}@{SERVICE_AGENTS[purpose]}",
                opts=self._child,
            )
            self.keys[purpose] = key
            self._grants.append(grant)

    # --- cluster -------------------------------------------------------------------------------------------

    def _cluster(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        self.node_account = gcp.serviceaccount.Account(
            f"{name}-nodes-sa",
            project=cfg.project,
            account_id=f"maestro-{args.environment}-nodes",
            display_name="Maestro GKE nodes (logging and monitoring only)",
            opts=self._child,
        )
        gcp.projects.IAMMember(
            f"{name}-nodes-sa-role",
            project=cfg.project,
            role=NODE_ROLE,
            member=self.node_account.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=self._child,
        )
        authorized = [
            {"cidr_block": c, "display_name": f"authorized-{i}"} for i, c in enumerate(cfg.master_authorized_cidrs)
        ]
        self.cluster = gcp.container.Cluster(
            f"{name}-gke",
            project=cfg.project,
            name=f"maestro-{args.environment}",
            location=cfg.region,  # regional: the control plane is replicated across the region's zones
            network=self.network.id,
            subnetwork=self.subnet.id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={"cluster_secondary_range_name": "pods", "services_secondary_range_name": "services"},
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": cfg.private_endpoint_only,
                "master_ipv4_cidr_block": cfg.master_cidr,
                "master_global_access_config": {"enabled": False},
            },
            master_authorized_networks_config={"cidr_blocks": authorized},
            workload_identity_config={"workload_pool": cfg.workload_pool},
            enable_shielded_nodes=True,
            datapath_provider="ADVANCED_DATAPATH",  # Dataplane V2: eBPF, enforces NetworkPolicies
            release_channel={"channel": cfg.release_channel},
            database_encryption={"state": "ENCRYPTED", "key_name": self.keys["cluster"].id},
            enable_legacy_abac=False,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            addons_config={"http_load_balancing": {"disabled": False}},
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"]},
            security_posture_config={"mode": "BASIC", "vulnerability_mode": "VULNERABILITY_BASIC"},
            remove_default_node_pool=True,
            initial_node_count=1,
            deletion_protection=args.deletion_protection,
            resource_labels=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._grants),
        )
        self.node_pool = gcp.container.NodePool(
            f"{name}-nodes",
            project=cfg.project,
            cluster=self.cluster.id,
            location=cfg.region,
            node_locations=list(cfg.node_zones) if cfg.node_zones else None,
            autoscaling={"min_node_count": cfg.node_min, "max_node_count": cfg.node_max},
            initial_node_count=cfg.node_min or 1,
            management={"auto_repair": True, "auto_upgrade": True},
            upgrade_settings={"max_surge": 1, "max_unavailable": 0},
            node_config={
                "machine_type": cfg.machine_type,
                "image_type": "COS_CONTAINERD",
                "disk_type": "pd-balanced",
                "disk_size_gb": 100,
                "boot_disk_kms_key": self.keys["disk"].id,
                "service_account": self.node_account.email,
                "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "metadata": {"disable-legacy-endpoints": "true"},
                "resource_labels": self._tags,
            },
            opts=self._child,
        )

    # --- buckets -------------------------------------------------------------------------------------------

    def _buckets(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        prod = args.environment == "prod"
        retention_days = args.postgres.backup_retention_days
        if cfg.dual_region is not None:
            location = dual_region_location(cfg.dual_region[0])
            placement: dict[str, Any] | None = {"data_locations": [r.upper() for r in cfg.dual_region]}
        else:
            location, placement = cfg.region.upper(), None
        self.buckets: dict[BucketPurpose, gcp.storage.Bucket] = {}
        for purpose in ("backup", "artifact"):
            backup = purpose == "backup"
            # A bucket retention policy (WORM) and object versioning exclude each other on GCS. The prod backup
            # bucket keeps every object for the retention period instead, which is the stronger guarantee.
            locked = backup and prod
            lifecycle: list[dict[str, Any]] = [
                {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 1}},
            ]
            if not locked:
                lifecycle.append(
                    {
                        "action": {"type": "Delete"},
                        "condition": {
                            "days_since_noncurrent_time": cfg.noncurrent_version_days,
                            "with_state": "ARCHIVED",
                        },
                    }
                )
            if backup:
                # WAL-G deletes what falls out of retention; this is the safety net for what it leaves behind.
                lifecycle.append({"action": {"type": "Delete"}, "condition": {"age": retention_days + 7}})
            self.buckets[purpose] = gcp.storage.Bucket(
                f"{name}-{purpose}",
                project=cfg.project,
                name=f"{cfg.buckets_prefix}-{purpose}",
                location=location,
                custom_placement_config=placement,
                rpo="ASYNC_TURBO" if cfg.turbo_replication else None,
                storage_class="STANDARD",
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                encryption={"default_kms_key_name": self.keys["storage"].id},
                versioning={"enabled": not locked},
                retention_policy={"retention_period": retention_days * 86400} if locked else None,
                soft_delete_policy={"retention_duration_seconds": 7 * 86400},
                lifecycle_rules=lifecycle,
                force_destroy=False,
                labels={**self._tags, "purpose": purpose},
                opts=pulumi.ResourceOptions(parent=self, protect=args.deletion_protection, depends_on=self._grants),
            )
        # Access logging for both buckets (MAESTRO-STO-006). Project-wide and authoritative for this one service:
        # an audit config for storage.googleapis.com set elsewhere in the project is replaced by this one.
        self.storage_audit = gcp.projects.IAMAuditConfig(
            f"{name}-storage-audit",
            project=cfg.project,
            service="storage.googleapis.com",
            audit_log_configs=[{"log_type": t} for t in STORAGE_AUDIT_LOG_TYPES],
            opts=self._child,
        )

    # --- redis ---------------------------------------------------------------------------------------------

    def _redis(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        self.redis = gcp.redis.Instance(
            f"{name}-redis",
            project=cfg.project,
            region=cfg.region,
            name=f"maestro-{args.environment}",
            tier="STANDARD_HA",  # a replica in another zone with automatic failover
            memory_size_gb=cfg.redis_memory_gb,
            redis_version=cfg.redis_version,
            authorized_network=self.network.id,
            connect_mode="DIRECT_PEERING",
            reserved_ip_range=cfg.redis_cidr,
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION",
            customer_managed_key=self.keys["redis"].id,
            maintenance_policy={
                "weekly_maintenance_windows": [{"day": "SUNDAY", "start_time": {"hours": 3, "minutes": 0}}]
            },
            deletion_protection=args.deletion_protection,
            labels=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._grants),
        )

    # --- Kubernetes provider, storage class and the public edge ----------------------------------------------

    def _provider_and_edge(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.master_auth
        ).apply(lambda v: _kubeconfig(cfg.project, v[0], v[1], v[2]))
        self.k8s_provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_pool]),
        )
        k8s_child = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider)
        k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata={"name": STORAGE_CLASS, "labels": self._tags},
            provisioner="pd.csi.storage.gke.io",
            parameters={"type": "pd-balanced", "disk-encryption-kms-key": self.keys["disk"].id},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain" if args.deletion_protection else "Delete",
            opts=k8s_child,
        )

        self.armor = gcp.compute.SecurityPolicy(
            f"{name}-armor",
            project=cfg.project,
            name=f"maestro-{args.environment}-api",
            description="Maestro API: OWASP CRS 3.3 preconfigured rules and a per-IP rate limit",
            type="CLOUD_ARMOR",
            rules=armor_rules(
                sensitivity=cfg.waf_sensitivity, block=args.waf.mode == "block", rate_limit=args.waf.rate_limit
            ),
            # Without JSON parsing Cloud Armor inspects a JSON body as one opaque string.
            advanced_options_config={
                "json_parsing": "STANDARD",
                "log_level": "VERBOSE",
                "request_body_inspection_size": "64KB",
            },
            adaptive_protection_config={"layer7_ddos_defense_config": {"enable": True}},
            opts=self._child,
        )
        self.ssl_policy = gcp.compute.SSLPolicy(
            f"{name}-ssl-policy",
            project=cfg.project,
            name=f"maestro-{args.environment}-tls12",
            profile="MODERN",
            min_tls_version="TLS_1_2",
            opts=self._child,
        )
        self.address = gcp.compute.GlobalAddress(
            f"{name}-ingress-ip",
            project=cfg.project,
            name=f"maestro-{args.environment}-ingress",
            labels=self._tags,
            opts=self._child,
        )

        namespace = k8s.core.v1.Namespace(
            f"{name}-ingress-namespace",
            # The controller drops all capabilities but binds port 80 in the pod: baseline, not restricted.
            metadata={
                "name": INGRESS_NAMESPACE,
                "labels": {**self._tags, "pod-security.kubernetes.io/enforce": "baseline"},
            },
            opts=k8s_child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, provider=self.k8s_provider, depends_on=[namespace])
        self._ingress_network_policies(in_ns)
        self.backend_config = k8s.apiextensions.CustomResource(
            f"{name}-backend-config",
            api_version="cloud.google.com/v1",
            kind="BackendConfig",
            metadata={"name": WAF_BACKEND_CONFIG, "namespace": INGRESS_NAMESPACE, "labels": self._tags},
            spec={
                "securityPolicy": {"name": self.armor.name},
                "logging": {"enable": True, "sampleRate": 1.0},
                "healthCheck": {"type": "HTTP", "requestPath": "/healthz", "port": args.ports.http},
                "connectionDraining": {"drainingTimeoutSec": 30},
            },
            opts=in_ns,
        )
        frontend_spec: dict[str, Any] = {"sslPolicy": self.ssl_policy.name}
        if args.api_hostname:
            frontend_spec["redirectToHttps"] = {"enabled": True}
        frontend = k8s.apiextensions.CustomResource(
            f"{name}-frontend-config",
            api_version="networking.gke.io/v1beta1",
            kind="FrontendConfig",
            metadata={"name": FRONTEND_CONFIG, "namespace": INGRESS_NAMESPACE, "labels": self._tags},
            spec=frontend_spec,
            opts=in_ns,
        )
        self.ingress_controller = k8s.helm.v3.Release(
            f"{name}-ingress-nginx",
            name="ingress-nginx",
            chart="ingress-nginx",
            version=INGRESS_NGINX_CHART_VERSION,
            namespace=INGRESS_NAMESPACE,
            repository_opts={"repo": INGRESS_NGINX_REPO},
            values={
                "commonLabels": self._tags,
                "controller": {
                    "ingressClassResource": {"name": INGRESS_CLASS, "default": False},
                    "admissionWebhooks": {"port": INGRESS_WEBHOOK_PORT},
                    "replicaCount": 3 if args.environment == "prod" else 1,
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                    "service": {
                        # Reached only through the GCE load balancer (container-native, NEG) below.
                        "type": "ClusterIP",
                        "annotations": {
                            "cloud.google.com/neg": json.dumps({"ingress": True}),
                            "cloud.google.com/backend-config": json.dumps({"default": WAF_BACKEND_CONFIG}),
                        },
                    },
                    "config": {
                        # The client address is the first X-Forwarded-For hop added by the Google Front End.
                        "use-forwarded-headers": "true",
                        "proxy-real-ip-cidr": ",".join(GFE_RANGES),
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.k8s_provider, depends_on=[namespace, self.backend_config]
            ),
        )
        annotations: dict[str, pulumi.Input[str]] = {
            "kubernetes.io/ingress.global-static-ip-name": self.address.name,
            "networking.gke.io/v1beta1.FrontendConfig": FRONTEND_CONFIG,
            "kubernetes.io/ingress.allow-http": "false" if args.api_hostname else "true",
        }
        depends: list[pulumi.Resource] = [self.ingress_controller, frontend]
        if args.api_hostname:
            cert = k8s.apiextensions.CustomResource(
                f"{name}-certificate",
                api_version="networking.gke.io/v1",
                kind="ManagedCertificate",
                metadata={"name": "maestro-api", "namespace": INGRESS_NAMESPACE, "labels": self._tags},
                spec={"domains": [args.api_hostname]},
                opts=in_ns,
            )
            annotations["networking.gke.io/managed-certificates"] = "maestro-api"
            depends.append(cert)
        self.edge_ingress = k8s.networking.v1.Ingress(
            f"{name}-edge",
            metadata={
                "name": "maestro-edge",
                "namespace": INGRESS_NAMESPACE,
                "labels": self._tags,
                "annotations": annotations,
            },
            spec={
                "ingress_class_name": "gce",
                "default_backend": {
                    "service": {"name": "ingress-nginx-controller", "port": {"number": args.ports.http}}
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=self.k8s_provider, depends_on=depends),
        )

    def _ingress_network_policies(self, in_ns: pulumi.ResourceOptions) -> None:
        """Default deny in the controller's namespace, then the flows the controller needs (module docstring)."""
        name, cfg, ports = self._base_name, self._cfg, self._args.ports
        control_plane = [{"ipBlock": {"cidr": cfg.master_cidr}}]
        flows = IngressControllerFlows(
            namespace=INGRESS_NAMESPACE,
            # The load balancer (NEG: GFE to pod) and its health checks.
            public_from=[{"ipBlock": {"cidr": c}} for c in GFE_RANGES],
            public_ports=(ports.http,),
            api_port=ports.api,
            # In a private cluster the API server is the private endpoint in `masterCidr`, on 443 only.
            kube_api=control_plane,
            kube_api_ports=(443,),
            # The control plane validating Ingresses through the admission webhook (set explicitly in the chart).
            webhook_from=control_plane,
            webhook_port=INGRESS_WEBHOOK_PORT,
        )
        self.ingress_policies = ingress_controller_policies(f"{name}-ingress", flows, opts=in_ns, labels=self._tags)
        # GKE's own firewall rules let the control plane reach nodes on 443 and 10250 only; the admission webhook
        # listens on INGRESS_WEBHOOK_PORT.
        gcp.compute.Firewall(
            f"{name}-master-webhook",
            project=cfg.project,
            name=f"maestro-{self._args.environment}-master-webhook",
            network=self.network.id,
            description="GKE control plane to the ingress-nginx admission webhook on the nodes",
            direction="INGRESS",
            source_ranges=[cfg.master_cidr],
            target_service_accounts=[self.node_account.email],
            allows=[{"protocol": "tcp", "ports": [str(INGRESS_WEBHOOK_PORT)]}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=self._child,
        )

    # --- workload identity ---------------------------------------------------------------------------------

    def _identities(self) -> dict[str, WorkloadIdentity]:
        name, cfg, args = self._base_name, self._cfg, self._args
        result: dict[str, WorkloadIdentity] = {}
        for key, request in args.identities.items():
            account_id = f"mae-{args.environment}-{key}"
            if not 6 <= len(account_id) <= 30:
                raise ValueError(f"identities.{key}: service account id {account_id!r} must be 6-30 characters")
            account = gcp.serviceaccount.Account(
                f"{name}-{key}-sa",
                project=cfg.project,
                account_id=account_id,
                display_name=f"Maestro {request.namespace}/{request.service_account} ({request.bucket} bucket)",
                opts=self._child,
            )
            email = account.account_id.apply(lambda a: f"{a}@{cfg.project}.iam.gserviceaccount.com")
            # The Kubernetes service account may act as this Google one (and nothing else may).
            gcp.serviceaccount.IAMMember(
                f"{name}-{key}-wi",
                service_account_id=account.name,
                role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{cfg.workload_pool}[{request.namespace}/{request.service_account}]",
                opts=self._child,
            )
            # The only grant this identity has: objects of its own bucket.
            gcp.storage.BucketIAMMember(
                f"{name}-{key}-bucket",
                bucket=self.buckets[request.bucket].name,
                role=BUCKET_OBJECT_ROLE,
                member=email.apply(lambda e: f"serviceAccount:{e}"),
                opts=self._child,
            )
            result[key] = WorkloadIdentity(
                namespace=request.namespace,
                service_account=request.service_account,
                annotations={"iam.gke.io/gcp-service-account": email},
            )
        return result


def _kubeconfig(project: str, cluster: str | None, endpoint: str | None, master_auth: Any) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin (no static credentials)."""
    ca = getattr(master_auth, "cluster_ca_certificate", None) or ""
    context = f"gke_{project}_{cluster}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "gke-gcloud-auth-plugin",
                        "provideClusterInfo": True,
                        "installHint": "gcloud components install gke-gcloud-auth-plugin",
                    }
                },
            }
        ],
    }
    return json.dumps(doc)


def build_gcp_foundation(
    name: str,
    config: MaestroConfig,
    ports: Ports,
    identities: Mapping[str, IdentityRequest],
    opts: pulumi.ResourceOptions | None = None,
) -> FoundationOutputs:
    """The GCP Foundation for a validated stack config (what `MaestroPlatform` calls when cloud is gcp)."""
    args = foundation_args(GcpFoundationArgs, "gcp", config, ports, identities, api_hostname=config.api.hostname)
    return GcpFoundation(name, args, opts=opts).outputs
