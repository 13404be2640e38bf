"""Private, regional GKE: shielded nodes with a least-privilege service account, Workload Identity, Dataplane V2
(NetworkPolicies enforced), secrets encrypted with our key; the Kubernetes provider the workloads inherit and the
CMEK StorageClass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.foundations.cloud import Scope
from components.foundations.gcp.args import GcpFoundationArgs
from components.foundations.gcp.keys import Keys
from components.foundations.gcp.network import Network

STORAGE_CLASS = "maestro-cmek"
NODE_ROLE = "roles/container.defaultNodeServiceAccount"  # logging, monitoring, metadata: what a node needs


@dataclass(frozen=True)
class Cluster:
    cluster: gcp.container.Cluster
    """The GKE cluster."""
    node_pool: gcp.container.NodePool
    """Its one autoscaled node pool."""
    node_account: gcp.serviceaccount.Account
    """The nodes' Google service account."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig using gke-gcloud-auth-plugin (no static credentials)."""
    provider: k8s.Provider
    """The Kubernetes provider of the cluster (after the node pool exists)."""


def cluster(scope: Scope[GcpFoundationArgs], net: Network, keys: Keys) -> Cluster:
    name, cfg, args = scope.name, scope.args.config, scope.args
    node_account = gcp.serviceaccount.Account(
        f"{name}-nodes-sa",
        project=cfg.project,
        account_id=f"maestro-{args.environment}-nodes",
        display_name="Maestro GKE nodes (logging and monitoring only)",
        opts=scope.child,
    )
    gcp.projects.IAMMember(
        f"{name}-nodes-sa-role",
        project=cfg.project,
        role=NODE_ROLE,
        member=node_account.email.apply(lambda e: f"serviceAccount:{e}"),
        opts=scope.child,
    )
    authorized = [
        {"cidr_block": c, "display_name": f"authorized-{i}"} for i, c in enumerate(cfg.master_authorized_cidrs)
    ]
    gke = gcp.container.Cluster(
        f"{name}-gke",
        project=cfg.project,
        name=f"maestro-{args.environment}",
        location=cfg.region,  # regional: the control plane is replicated across the region's zones
        network=net.network.id,
        subnetwork=net.subnet.id,
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
        database_encryption={"state": "ENCRYPTED", "key_name": keys.keys["cluster"].id},
        enable_legacy_abac=False,
        master_auth={"client_certificate_config": {"issue_client_certificate": False}},
        addons_config={"http_load_balancing": {"disabled": False}},
        logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"]},
        security_posture_config={"mode": "BASIC", "vulnerability_mode": "VULNERABILITY_BASIC"},
        remove_default_node_pool=True,
        initial_node_count=1,
        deletion_protection=args.deletion_protection,
        resource_labels=scope.tags,
        opts=scope.opts(depends_on=keys.grants),
    )
    node_pool = gcp.container.NodePool(
        f"{name}-nodes",
        project=cfg.project,
        cluster=gke.id,
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
            "boot_disk_kms_key": keys.keys["disk"].id,
            "service_account": node_account.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "metadata": {"disable-legacy-endpoints": "true"},
            "resource_labels": scope.tags,
        },
        opts=scope.child,
    )
    kubeconfig: pulumi.Output[str] = pulumi.Output.all(gke.name, gke.endpoint, gke.master_auth).apply(
        lambda v: _kubeconfig(cfg.project, v[0], v[1], v[2])
    )
    provider = k8s.Provider(
        f"{name}-provider",
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=scope.opts(depends_on=[node_pool]),
    )
    k8s.storage.v1.StorageClass(
        f"{name}-storage-class",
        metadata={"name": STORAGE_CLASS, "labels": scope.tags},
        provisioner="pd.csi.storage.gke.io",
        parameters={"type": "pd-balanced", "disk-encryption-kms-key": keys.keys["disk"].id},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Retain" if args.deletion_protection else "Delete",
        opts=scope.opts(provider=provider),
    )
    return Cluster(
        cluster=gke, node_pool=node_pool, node_account=node_account, kubeconfig=kubeconfig, provider=provider
    )


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
