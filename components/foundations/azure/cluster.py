"""AKS: private API server with VNet integration, Entra ID only, Workload Identity, KMS with our key, Azure CNI
(overlay) with Cilium enforcing NetworkPolicies, the AGIC add-on driving the gateway; the Kubernetes provider the
workloads inherit."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s

from components.foundations.azure.identity import assign, managed_identity
from components.foundations.azure.keys import Keys
from components.foundations.azure.logs import diagnostics
from components.foundations.azure.network import Network
from components.foundations.azure.scope import AzureScope

STORAGE_CLASS = "managed-csi-premium"  # AKS built-in: zone-redundant-capable premium SSD, encrypted at rest


@dataclass(frozen=True)
class Cluster:
    cluster: azure.containerservice.ManagedCluster
    """The AKS cluster."""
    name: pulumi.Output[str]
    """Its name, derived from its id so it carries the dependency on the cluster."""
    kubeconfig: pulumi.Output[str]
    """The cluster user's kubeconfig (exec format: Entra ID, no static credentials)."""
    provider: k8s.Provider
    """The Kubernetes provider of the cluster."""


def cluster(
    scope: AzureScope,
    net: Network,
    keys: Keys,
    gateway: azure.network.ApplicationGateway,
    logs_workspace: azure.operationalinsights.Workspace,
) -> Cluster:
    name, cfg, args = scope.name, scope.args.config, scope.args
    identity = managed_identity(scope, "cluster", resource_name="aks")
    principal = identity.principal_id
    grants = [
        assign(scope, "cluster-kms", "crypto_user", principal, keys.keys["cluster"].id),
        assign(scope, "cluster-subnet", "network_contributor", principal, net.subnets["nodes"].id),
        assign(scope, "cluster-apiserver-subnet", "network_contributor", principal, net.subnets["apiserver"].id),
    ]
    zones = list(cfg.zones) or None
    aks = azure.containerservice.ManagedCluster(
        f"{name}-aks",
        resource_group_name=scope.rg,
        resource_name_=f"{scope.base}-aks",
        location=cfg.location,
        dns_prefix=scope.base,
        kubernetes_version=cfg.kubernetes_version,
        sku={"name": "Base", "tier": cfg.sku_tier},
        identity={
            "type": "UserAssigned",
            "user_assigned_identities": [identity.id],
        },
        node_resource_group=f"{scope.base}-nodes-rg",
        enable_rbac=True,
        disable_local_accounts=True,  # Entra ID only: no static cluster-admin certificate
        aad_profile={"managed": True, "enable_azure_rbac": True, "tenant_id": cfg.tenant_id},
        api_server_access_profile={
            "enable_private_cluster": cfg.private_cluster,
            "authorized_ip_ranges": list(cfg.authorized_ip_ranges) if not cfg.private_cluster else None,
            "enable_vnet_integration": True,
            "subnet_id": net.subnets["apiserver"].id,
            "disable_run_command": args.environment == "prod",
        },
        oidc_issuer_profile={"enabled": True},
        security_profile={
            "workload_identity": {"enabled": True},
            "azure_key_vault_kms": {
                "enabled": True,
                "key_id": keys.keys["cluster"].key_uri_with_version,
                "key_vault_network_access": "Private",
                "key_vault_resource_id": keys.vault.id,
            },
            "image_cleaner": {"enabled": True, "interval_hours": 48},
        },
        network_profile={
            "network_plugin": "azure",
            "network_plugin_mode": "overlay",
            "network_dataplane": "cilium",
            "network_policy": "cilium",  # NetworkPolicies enforced by Azure CNI powered by Cilium
            "pod_cidr": cfg.pod_cidr,
            "service_cidr": cfg.service_cidr,
            "dns_service_ip": cfg.dns_service_ip,
            "outbound_type": "loadBalancer",
            "load_balancer_sku": "standard",
        },
        agent_pool_profiles=[
            {
                "name": "system",
                "mode": "System",
                "vm_size": cfg.node_vm_size,
                "os_type": "Linux",
                "os_sku": "AzureLinux",
                "os_disk_type": "Managed",
                "enable_auto_scaling": True,
                "min_count": cfg.node_min,
                "max_count": cfg.node_max,
                "count": cfg.node_min,
                "availability_zones": zones,
                "vnet_subnet_id": net.subnets["nodes"].id,
                "enable_node_public_ip": False,
                "enable_encryption_at_host": True,
                "upgrade_settings": {"max_surge": "33%"},
            }
        ],
        addon_profiles={
            "ingressApplicationGateway": {
                "enabled": True,
                "config": {"applicationGatewayId": gateway.id},
            },
            "omsagent": {
                "enabled": True,
                "config": {"logAnalyticsWorkspaceResourceID": logs_workspace.id},
            },
            "azurepolicy": {"enabled": True},
        },
        auto_upgrade_profile={"upgrade_channel": "stable", "node_os_upgrade_channel": "NodeImage"},
        tags=scope.tags,
        opts=scope.opts(depends_on=grants, protect=args.deletion_protection),
    )
    # Our name for it (deterministic), derived from the id so it carries the dependency on the cluster.
    cluster_name: pulumi.Output[str] = aks.id.apply(lambda _: f"{scope.base}-aks")
    diagnostics(scope, logs_workspace, aks, "aks")
    # The AGIC add-on's own identity must manage the gateway and join its subnet.
    agic = aks.addon_profiles.apply(_agic_object_id)
    assign(scope, "agic-gateway", "contributor", agic, gateway.id)
    assign(scope, "agic-rg", "reader", agic, scope.resource_group.id)
    assign(scope, "agic-subnet", "network_contributor", agic, net.subnets["appgw"].id)

    credentials = azure.containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=scope.rg, resource_name=cluster_name, format="exec"
    )
    kubeconfig: pulumi.Output[str] = credentials.kubeconfigs.apply(
        lambda ks: base64.b64decode(ks[0].value).decode() if ks else ""
    )
    provider = k8s.Provider(
        f"{name}-provider",
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=scope.opts(depends_on=[aks]),
    )
    return Cluster(cluster=aks, name=cluster_name, kubeconfig=kubeconfig, provider=provider)


def _agic_object_id(profiles: Any) -> str:
    """The object id of the AGIC add-on's identity (known after the cluster is created)."""
    try:
        return str(profiles["ingressApplicationGateway"].identity.object_id or "")
    except (KeyError, TypeError, AttributeError):
        return ""
