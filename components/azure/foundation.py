"""The Azure Foundation: resource group, VNet, private AKS, Key Vault, storage, Azure Cache for Redis, the WAF policy
on an Application Gateway (AGIC) and workload identity.

The WAF reaches the API through the Application Gateway Ingress Controller add-on: the gateway carries the WAF policy
as its default, and the API's Ingress names the same policy explicitly (`waf-policy-for-path`), so the API keeps its
WAF even if other Ingresses on the gateway get a different one.

TLS: the gateway reads the API's certificate from the Foundation's Key Vault with its own identity (allowed to read that
one secret only) and the API's Ingress names it (`appgw-ssl-certificate`) and turns on `ssl-redirect`: HTTP on the
gateway only redirects. The private key never passes through Pulumi or the stack config.

Logs: storage access (blob reads, writes, deletes) and the gateway's WAF decisions go to the Log Analytics workspace;
VNet flow logs go to a storage account of their own, written by Network Watcher with a managed identity.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s

from components.azure.waf import custom_rules, managed_rules, policy_settings
from components.cloud_common import CloudFoundation, CloudFoundationArgs, foundation_args
from components.config import MaestroConfig, Ports
from components.config.azure import AzureConfig
from components.foundation import (
    BucketPurpose,
    BucketRef,
    FoundationOutputs,
    IdentityRequest,
    RedisEndpoint,
    WorkloadIdentity,
)

# Azure Cache for Redis serves TLS on 6380, a port fixed by the service (config/ports.yaml's redis port is ours).
AZURE_REDIS_TLS_PORT = 6380
INGRESS_CLASS = "azure-application-gateway"
STORAGE_CLASS = "managed-csi-premium"  # AKS built-in: zone-redundant-capable premium SSD, encrypted at rest
WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange"
# Built-in role definition ids (the same in every tenant).
ROLES = {
    "blob_data_contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "crypto_user": "12338af0-0e69-4776-bea7-57ae8d297424",
    "crypto_service_encryption_user": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "network_contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "key_vault_secrets_user": "4633458b-17de-408a-b874-0445c86b69e6",
}
KEY_PURPOSES = ("cluster", "storage")
BLOB_DNS_ZONE = "privatelink.blob.core.windows.net"
REDIS_DNS_ZONE = "privatelink.redis.cache.windows.net"
# The gateway's name for the API's certificate (an sslCertificates entry), which the Ingress annotation references.
APPGW_CERTIFICATE = "maestro-api-tls"
# Blob service log categories sent to Log Analytics: who read, wrote or deleted what (MAESTRO-STO-006).
BLOB_LOG_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")


@dataclass(frozen=True)
class AzureFoundationArgs(CloudFoundationArgs[AzureConfig]):
    """The common Foundation args (components/cloud_common.py), nothing more. On Azure the WAF mode `block` is
    Prevention and `count` Detection, and the backup retention is the backup container's immutability period."""


class AzureFoundation(CloudFoundation[AzureFoundationArgs]):
    """Exposes `outputs: FoundationOutputs`."""

    def __init__(self, name: str, args: AzureFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:azure:Foundation", name, args, opts)
        self._cfg = cfg = args.config
        self._base = f"{cfg.name_prefix}-{args.environment}"

        self.resource_group = azure.resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=f"{self._base}-rg",
            location=cfg.location,
            tags=self._tags,
            opts=self._child,
        )
        self._rg = self.resource_group.name
        self._network()
        self._logs()
        self._keys()
        self._waf_and_gateway()
        self._cluster()
        self._storage()
        self._redis()
        identities = self._identities()

        def ref(purpose: BucketPurpose) -> BucketRef:
            return BucketRef(
                scheme="azure",
                # The name is ours (deterministic); deriving it from the id keeps the dependency on the container.
                name=self.containers[purpose].id.apply(lambda _: purpose),
                region=cfg.location,
                kms_key_id=None,  # storage-account level CMK: writers need no key parameter
            )

        self.outputs = FoundationOutputs(
            cloud="azure",
            k8s_provider=self.k8s_provider,
            cluster_name=self.cluster_name,
            kubeconfig=pulumi.Output.secret(self.kubeconfig),
            storage_class=STORAGE_CLASS,
            ingress_class=INGRESS_CLASS,
            ingress_annotations=self._ingress_annotations(),
            # AGIC sends traffic from the gateway's instances, which live in the gateway subnet.
            ingress_peers=[{"ipBlock": {"cidr": cfg.appgw_subnet_cidr}}],
            service_cidrs=(cfg.endpoints_subnet_cidr,),
            backup_bucket=ref("backup"),
            artifact_bucket=ref("artifact"),
            identities=identities,
            key_ids={purpose: key.key_uri_with_version for purpose, key in self.keys.items()},
            waf_id=self.waf_policy.id,
            redis=RedisEndpoint(
                host=self.redis.host_name,
                port=AZURE_REDIS_TLS_PORT,
                password=pulumi.Output.secret(
                    self.redis.access_keys.apply(lambda k: (k.primary_key if k is not None else "") or "")
                ),
                tls=True,
            ),
            registry=None,
            ready=[self.cluster],
            extra_outputs={
                "azureResourceGroup": self._rg,
                "azureBackupStorageAccount": self.account_names["backup"],
                "azureArtifactStorageAccount": self.account_names["artifact"],
            },
        )
        self.register_outputs({"cluster_name": self.cluster_name, "waf_id": self.waf_policy.id})

    # --- helpers -------------------------------------------------------------------------------------------

    def _ingress_annotations(self) -> dict[str, pulumi.Input[str]]:
        annotations: dict[str, pulumi.Input[str]] = {
            "appgw.ingress.kubernetes.io/waf-policy-for-path": self.waf_policy.id,
            "appgw.ingress.kubernetes.io/request-timeout": "60",
        }
        if self._cfg.tls_certificate_name is not None:
            annotations["appgw.ingress.kubernetes.io/appgw-ssl-certificate"] = APPGW_CERTIFICATE
            annotations["appgw.ingress.kubernetes.io/ssl-redirect"] = "true"
        return annotations

    def _role_id(self, role: str) -> str:
        return (
            f"/subscriptions/{self._cfg.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{ROLES[role]}"
        )

    def _assign(
        self, suffix: str, role: str, principal: pulumi.Input[str], scope: pulumi.Input[str]
    ) -> azure.authorization.RoleAssignment:
        return azure.authorization.RoleAssignment(
            f"{self._base_name}-{suffix}",
            principal_id=principal,
            principal_type="ServicePrincipal",
            role_definition_id=self._role_id(role),
            scope=scope,
            opts=self._child,
        )

    def _identity(
        self, suffix: str, *, resource_name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> azure.managedidentity.UserAssignedIdentity:
        """A user-assigned managed identity: `<base name>-<suffix>-identity` in Pulumi, `<prefix>-<env>-<resource_name
        or suffix>` in Azure, in the Foundation's resource group and location."""
        return azure.managedidentity.UserAssignedIdentity(
            f"{self._base_name}-{suffix}-identity",
            resource_group_name=self._rg,
            resource_name_=f"{self._base}-{resource_name or suffix}",
            location=self._cfg.location,
            tags=dict(tags) if tags is not None else self._tags,
            opts=self._child,
        )

    # --- network -------------------------------------------------------------------------------------------

    def _network(self) -> None:
        name, cfg, ports = self._base_name, self._cfg, self._args.ports
        gateway_rules = [
            # Required by Application Gateway v2 for its own health and management traffic.
            _nsg_rule(
                "AllowGatewayManager",
                100,
                "GatewayManager",
                "65200-65535",
                "Application Gateway v2 infrastructure: health and management traffic from GatewayManager",
            ),
            _nsg_rule(
                "AllowAzureLoadBalancer",
                110,
                "AzureLoadBalancer",
                "*",
                "Azure load balancer health probes of the gateway instances",
            ),
            _nsg_rule(
                "AllowHttpsFromInternet",
                120,
                "Internet",
                str(ports.https),
                "The API's public HTTPS listener (TLS terminated on the gateway, WAF in front)",
            ),
            _nsg_rule(
                "AllowHttpFromInternet",
                130,
                "Internet",
                str(ports.http),
                "Plain HTTP to the gateway, which only redirects to HTTPS when a certificate is configured",
            ),
        ]
        nsgs = {
            purpose: azure.network.NetworkSecurityGroup(
                f"{name}-nsg-{purpose}",
                resource_group_name=self._rg,
                network_security_group_name=f"{self._base}-{purpose}-nsg",
                location=cfg.location,
                security_rules=gateway_rules if purpose == "appgw" else [],
                tags=self._tags,
                opts=self._child,
            )
            for purpose in ("nodes", "appgw", "endpoints", "apiserver")
        }
        self.vnet = azure.network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=self._rg,
            virtual_network_name=f"{self._base}-vnet",
            location=cfg.location,
            address_space={"address_prefixes": [cfg.vnet_cidr]},
            tags=self._tags,
            # Subnets are separate resources; the VNet must not fight them over its `subnets` list.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        self.subnets: dict[str, azure.network.Subnet] = {}
        specs: dict[str, dict[str, Any]] = {
            "nodes": {"address_prefix": cfg.nodes_subnet_cidr},
            "appgw": {"address_prefix": cfg.appgw_subnet_cidr},
            "endpoints": {
                "address_prefix": cfg.endpoints_subnet_cidr,
                "private_endpoint_network_policies": "Enabled",  # NSGs apply to private endpoints too
            },
            # API server VNet integration: the control plane reaches the private Key Vault from here.
            "apiserver": {
                "address_prefix": cfg.apiserver_subnet_cidr,
                "delegations": [{"name": "aks", "service_name": "Microsoft.ContainerService/managedClusters"}],
            },
        }
        previous: list[pulumi.Resource] = []
        for purpose, spec in specs.items():
            subnet = azure.network.Subnet(
                f"{name}-subnet-{purpose}",
                resource_group_name=self._rg,
                virtual_network_name=self.vnet.name,
                subnet_name=purpose,
                network_security_group={"id": nsgs[purpose].id},
                default_outbound_access=False,
                **spec,
                # Azure serialises changes to one VNet's subnets: create them one after another.
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(previous)),
            )
            self.subnets[purpose] = subnet
            previous = [subnet]
        self.dns_zones = {
            zone: azure.privatedns.PrivateZone(
                f"{name}-dns-{label}",
                resource_group_name=self._rg,
                private_zone_name=zone,
                location="global",
                tags=self._tags,
                opts=self._child,
            )
            for label, zone in (("blob", BLOB_DNS_ZONE), ("redis", REDIS_DNS_ZONE))
        }
        for label, zone in (("blob", BLOB_DNS_ZONE), ("redis", REDIS_DNS_ZONE)):
            azure.privatedns.VirtualNetworkLink(
                f"{name}-dns-{label}-link",
                resource_group_name=self._rg,
                private_zone_name=self.dns_zones[zone].name,
                virtual_network_link_name=f"{self._base}-vnet",
                location="global",
                virtual_network={"id": self.vnet.id},
                registration_enabled=False,
                opts=self._child,
            )

    def _private_endpoint(self, suffix: str, target: pulumi.Input[str], group: str, zone: str) -> None:
        endpoint = azure.network.PrivateEndpoint(
            f"{self._base_name}-{suffix}-pe",
            resource_group_name=self._rg,
            private_endpoint_name=f"{self._base}-{suffix}-pe",
            location=self._cfg.location,
            subnet={"id": self.subnets["endpoints"].id},
            private_link_service_connections=[
                {"name": suffix, "private_link_service_id": target, "group_ids": [group]}
            ],
            opts=self._child,
        )
        azure.network.PrivateDnsZoneGroup(
            f"{self._base_name}-{suffix}-pe-dns",
            resource_group_name=self._rg,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[{"name": suffix, "private_dns_zone_id": self.dns_zones[zone].id}],
            opts=self._child,
        )

    # --- logs ----------------------------------------------------------------------------------------------

    def _logs(self) -> None:
        self.workspace = azure.operationalinsights.Workspace(
            f"{self._base_name}-logs",
            resource_group_name=self._rg,
            workspace_name=f"{self._base}-logs",
            location=self._cfg.location,
            sku={"name": "PerGB2018"},
            retention_in_days=self._cfg.log_retention_days,
            tags=self._tags,
            opts=self._child,
        )

    def _diagnostics(
        self,
        resource: pulumi.CustomResource,
        suffix: str,
        target: pulumi.Input[str] | None = None,
        *,
        logs: list[dict[str, Any]] | None = None,
        metrics: list[dict[str, Any]] | None = None,
    ) -> azure.monitor.DiagnosticSetting:
        """Logs and metrics of `target` (default: `resource` itself) to the workspace, after `resource` exists; named
        `<base name>-<suffix>-diagnostics`, the pairing the policy pack expects (the suffix starts with the monitored
        resource's own suffix). Without `logs`/`metrics`: every log category group and every metric."""
        return azure.monitor.DiagnosticSetting(
            f"{self._base_name}-{suffix}-diagnostics",
            name=f"{self._base}-{suffix}",
            resource_uri=target if target is not None else resource.id,
            workspace_id=self.workspace.id,
            logs=logs if logs is not None else [{"category_group": "allLogs", "enabled": True}],
            metrics=metrics if metrics is not None else [{"category": "AllMetrics", "enabled": True}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[resource]),
        )

    # --- keys ----------------------------------------------------------------------------------------------

    def _keys(self) -> None:
        name, cfg = self._base_name, self._cfg
        self.vault = azure.keyvault.Vault(
            f"{name}-vault",
            resource_group_name=self._rg,
            vault_name=f"{self._base}-kv",
            location=cfg.location,
            properties={
                "tenant_id": cfg.tenant_id,
                "sku": {"family": "A", "name": "premium"},  # HSM-backed keys
                "enable_rbac_authorization": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": 90,
                "enable_purge_protection": True,  # required for CMK on storage and for AKS KMS
                "public_network_access": "Enabled",
                # Closed except to trusted Azure services (storage CMK) and the operators' CIDRs; AKS reaches the
                # vault through API server VNet integration ("Private" KMS).
                "network_acls": {
                    "default_action": "Deny",
                    "bypass": "AzureServices",
                    "ip_rules": [{"value": c} for c in cfg.key_vault_allowed_cidrs],
                    "virtual_network_rules": [],
                },
            },
            tags=self._tags,
            opts=self._protected,
        )
        rotate_after = f"P{cfg.key_rotation_days}D"
        self.keys: dict[str, azure.keyvault.Key] = {}
        for purpose in KEY_PURPOSES:
            self.keys[purpose] = azure.keyvault.Key(
                f"{name}-key-{purpose}",
                resource_group_name=self._rg,
                vault_name=self.vault.name,
                key_name=f"maestro-{purpose}",
                properties={
                    "kty": "RSA-HSM",
                    "key_size": 3072,
                    "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                    "rotation_policy": {
                        # Rotate automatically; versions expire a year after creation so a missed rotation
                        # surfaces (notify 30 days before) instead of running on one key forever.
                        "attributes": {"expiry_time": "P1Y"},
                        "lifetime_actions": [
                            {"action": {"type": "rotate"}, "trigger": {"time_after_create": rotate_after}},
                            {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
                        ],
                    },
                },
                tags=self._tags,
                opts=self._protected,
            )

    # --- WAF and Application Gateway ----------------------------------------------------------------------

    def _waf_and_gateway(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        self.waf_policy = azure.network.WebApplicationFirewallPolicy(
            f"{name}-waf",
            resource_group_name=self._rg,
            policy_name=f"{self._base}-waf",
            location=cfg.location,
            managed_rules=managed_rules(),
            policy_settings=policy_settings(block=args.waf.mode == "block"),
            custom_rules=custom_rules(rate_limit=args.waf.rate_limit),
            tags=self._tags,
            opts=self._child,
        )
        public_ip = azure.network.PublicIPAddress(
            f"{name}-appgw-ip",
            resource_group_name=self._rg,
            public_ip_address_name=f"{self._base}-appgw-ip",
            location=cfg.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            zones=list(cfg.zones),
            tags=self._tags,
            opts=self._child,
        )
        tls_options, tls_settings = self._gateway_tls()
        gateway_name = f"{self._base}-appgw"
        rg_name = f"{self._base}-rg"
        gw_id = (
            f"/subscriptions/{cfg.subscription_id}/resourceGroups/{rg_name}/providers/Microsoft.Network/"
            f"applicationGateways/{gateway_name}"
        )
        # A gateway needs one listener/rule/pool to exist; AGIC replaces them with the Ingresses' routes.
        self.gateway = azure.network.ApplicationGateway(
            f"{name}-appgw",
            resource_group_name=self._rg,
            application_gateway_name=gateway_name,
            location=cfg.location,
            sku={"name": "WAF_v2", "tier": "WAF_v2"},
            autoscale_configuration={
                "min_capacity": cfg.appgw_min_capacity,
                "max_capacity": cfg.appgw_max_capacity,
            },
            zones=list(cfg.zones),
            enable_http2=True,
            firewall_policy={"id": self.waf_policy.id},
            force_firewall_policy_association=True,
            ssl_policy={"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20220101S"},
            **tls_settings,
            gateway_ip_configurations=[{"name": "gateway", "subnet": {"id": self.subnets["appgw"].id}}],
            frontend_ip_configurations=[{"name": "public", "public_ip_address": {"id": public_ip.id}}],
            frontend_ports=[{"name": "http", "port": args.ports.http}],
            backend_address_pools=[{"name": "bootstrap"}],
            backend_http_settings_collection=[
                {"name": "bootstrap", "port": args.ports.http, "protocol": "Http", "request_timeout": 30}
            ],
            http_listeners=[
                {
                    "name": "bootstrap",
                    "protocol": "Http",
                    "frontend_ip_configuration": {"id": f"{gw_id}/frontendIPConfigurations/public"},
                    "frontend_port": {"id": f"{gw_id}/frontendPorts/http"},
                }
            ],
            request_routing_rules=[
                {
                    "name": "bootstrap",
                    "rule_type": "Basic",
                    "priority": 20000,
                    "http_listener": {"id": f"{gw_id}/httpListeners/bootstrap"},
                    "backend_address_pool": {"id": f"{gw_id}/backendAddressPools/bootstrap"},
                    "backend_http_settings": {"id": f"{gw_id}/backendHttpSettingsCollection/bootstrap"},
                }
            ],
            tags=self._tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=tls_options,
                # AGIC owns the routing configuration from the first sync on. Not the certificates: AGIC only
                # references the one declared here (by name), so Pulumi keeps it in step with the config.
                ignore_changes=[
                    "backendAddressPools",
                    "backendHttpSettingsCollection",
                    "httpListeners",
                    "requestRoutingRules",
                    "frontendPorts",
                    "probes",
                    "urlPathMaps",
                    "redirectConfigurations",
                    "rewriteRuleSets",
                    "tags",
                ],
            ),
        )
        self._diagnostics(self.gateway, "appgw")

    def _gateway_tls(self) -> tuple[list[pulumi.Resource], dict[str, Any]]:
        """The gateway's identity and its certificate from Key Vault (nothing without `tlsCertificateName`)."""
        certificate = self._cfg.tls_certificate_name
        if certificate is None:
            return [], {}
        identity = self._identity("appgw")
        # Read access to exactly the certificate's secret (Key Vault RBAC at secret scope), nothing else.
        grant = self._assign(
            "appgw-certificate",
            "key_vault_secrets_user",
            identity.principal_id,
            self.vault.id.apply(lambda v: f"{v}/secrets/{certificate}"),
        )
        # Versionless: the gateway polls Key Vault and serves renewed versions of the certificate.
        secret_id = self.vault.properties.apply(lambda p: f"{(p.vault_uri or '').rstrip('/')}/secrets/{certificate}")
        return [grant], {
            "identity": {"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            "ssl_certificates": [{"name": APPGW_CERTIFICATE, "key_vault_secret_id": secret_id}],
        }

    # --- cluster -------------------------------------------------------------------------------------------

    def _cluster(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        self.cluster_identity = self._identity("cluster", resource_name="aks")
        principal = self.cluster_identity.principal_id
        grants = [
            self._assign("cluster-kms", "crypto_user", principal, self.keys["cluster"].id),
            self._assign("cluster-subnet", "network_contributor", principal, self.subnets["nodes"].id),
            self._assign("cluster-apiserver-subnet", "network_contributor", principal, self.subnets["apiserver"].id),
        ]
        zones = list(cfg.zones) or None
        self.cluster = azure.containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=self._rg,
            resource_name_=f"{self._base}-aks",
            location=cfg.location,
            dns_prefix=self._base,
            kubernetes_version=cfg.kubernetes_version,
            sku={"name": "Base", "tier": cfg.sku_tier},
            identity={
                "type": "UserAssigned",
                "user_assigned_identities": [self.cluster_identity.id],
            },
            node_resource_group=f"{self._base}-nodes-rg",
            enable_rbac=True,
            disable_local_accounts=True,  # Entra ID only: no static cluster-admin certificate
            aad_profile={"managed": True, "enable_azure_rbac": True, "tenant_id": cfg.tenant_id},
            api_server_access_profile={
                "enable_private_cluster": cfg.private_cluster,
                "authorized_ip_ranges": list(cfg.authorized_ip_ranges) if not cfg.private_cluster else None,
                "enable_vnet_integration": True,
                "subnet_id": self.subnets["apiserver"].id,
                "disable_run_command": args.environment == "prod",
            },
            oidc_issuer_profile={"enabled": True},
            security_profile={
                "workload_identity": {"enabled": True},
                "azure_key_vault_kms": {
                    "enabled": True,
                    "key_id": self.keys["cluster"].key_uri_with_version,
                    "key_vault_network_access": "Private",
                    "key_vault_resource_id": self.vault.id,
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
                    "vnet_subnet_id": self.subnets["nodes"].id,
                    "enable_node_public_ip": False,
                    "enable_encryption_at_host": True,
                    "upgrade_settings": {"max_surge": "33%"},
                }
            ],
            addon_profiles={
                "ingressApplicationGateway": {
                    "enabled": True,
                    "config": {"applicationGatewayId": self.gateway.id},
                },
                "omsagent": {
                    "enabled": True,
                    "config": {"logAnalyticsWorkspaceResourceID": self.workspace.id},
                },
                "azurepolicy": {"enabled": True},
            },
            auto_upgrade_profile={"upgrade_channel": "stable", "node_os_upgrade_channel": "NodeImage"},
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants, protect=args.deletion_protection),
        )
        # Our name for it (deterministic), derived from the id so it carries the dependency on the cluster.
        self.cluster_name: pulumi.Output[str] = self.cluster.id.apply(lambda _: f"{self._base}-aks")
        self._diagnostics(self.cluster, "aks")
        # The AGIC add-on's own identity must manage the gateway and join its subnet.
        agic = self.cluster.addon_profiles.apply(_agic_object_id)
        self._assign("agic-gateway", "contributor", agic, self.gateway.id)
        self._assign("agic-rg", "reader", agic, self.resource_group.id)
        self._assign("agic-subnet", "network_contributor", agic, self.subnets["appgw"].id)

        credentials = azure.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self._rg, resource_name=self.cluster_name, format="exec"
        )
        self.kubeconfig: pulumi.Output[str] = credentials.kubeconfigs.apply(
            lambda ks: base64.b64decode(ks[0].value).decode() if ks else ""
        )
        self.k8s_provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]),
        )

    # --- storage -------------------------------------------------------------------------------------------

    def _storage(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        prod = args.environment == "prod"
        self.storage_identity = self._identity("storage")
        key_grant = self._assign(
            "storage-cmk",
            "crypto_service_encryption_user",
            self.storage_identity.principal_id,
            self.keys["storage"].id,
        )
        self.accounts: dict[BucketPurpose, azure.storage.StorageAccount] = {}
        self.account_names: dict[BucketPurpose, pulumi.Output[str]] = {}
        self.containers: dict[BucketPurpose, azure.storage.BlobContainer] = {}
        for purpose in ("backup", "artifact"):
            account, service = self._account(
                purpose,
                key_grant,
                lifecycle={"version": {"delete": {"days_after_creation_greater_than": 30}}},
                logs=BLOB_LOG_CATEGORIES,
            )
            immutable = purpose == "backup" and prod
            container = azure.storage.BlobContainer(
                f"{name}-{purpose}-container",
                resource_group_name=self._rg,
                account_name=account.name,
                container_name=purpose,
                public_access="None",
                # Version-level WORM: each backup version stays immutable for the retention period.
                immutable_storage_with_versioning={"enabled": True} if immutable else None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[service], protect=args.deletion_protection),
            )
            if immutable:
                azure.storage.BlobContainerImmutabilityPolicy(
                    f"{name}-{purpose}-immutability",
                    resource_group_name=self._rg,
                    account_name=account.name,
                    container_name=container.name,
                    immutability_policy_name="default",
                    immutability_period_since_creation_in_days=args.postgres.backup_retention_days,
                    allow_protected_append_writes_all=False,
                    opts=self._child,
                )
            self._private_endpoint(f"{purpose}-blob", account.id, "blob", BLOB_DNS_ZONE)
            account_name = f"{cfg.name_prefix}{args.environment}{purpose}"
            self.accounts[purpose] = account
            self.account_names[purpose] = account.id.apply(lambda _, n=account_name: n)
            self.containers[purpose] = container
        self._flow_log(key_grant)

    def _account(
        self,
        purpose: str,
        key_grant: pulumi.Resource,
        *,
        lifecycle: dict[str, Any],
        logs: tuple[str, ...],
        private: bool = True,
    ) -> tuple[azure.storage.StorageAccount, azure.storage.BlobServiceProperties]:
        """A storage account with the platform's baseline: no public blobs, TLS 1.2, Entra ID only, CMK, versioning,
        soft delete, a lifecycle rule and blob access logs to the workspace. `private` closes the public endpoint
        (clients use a private endpoint); otherwise its firewall admits trusted Azure services only."""
        name, cfg, args = self._base_name, self._cfg, self._args
        account = azure.storage.StorageAccount(
            f"{name}-{purpose}",
            resource_group_name=self._rg,
            account_name=f"{cfg.name_prefix}{args.environment}{purpose}",
            location=cfg.location,
            kind="StorageV2",
            sku={"name": "Standard_GZRS" if cfg.geo_redundant else "Standard_ZRS"},
            access_tier="Hot",
            allow_blob_public_access=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            # Every reader and writer is a managed or workload identity (Entra ID): no account keys, no SAS.
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            public_network_access="Disabled" if private else "Enabled",
            network_rule_set={"default_action": "Deny", "bypass": "AzureServices"},
            identity={"type": "UserAssigned", "user_assigned_identities": [self.storage_identity.id]},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "require_infrastructure_encryption": True,
                "identity": {"encryption_user_assigned_identity": self.storage_identity.id},
                "key_vault_properties": {
                    "key_name": self.keys["storage"].id.apply(lambda _: "maestro-storage"),
                    "key_vault_uri": self.vault.properties.apply(lambda p: p.vault_uri or ""),
                },
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags={**self._tags, "purpose": purpose},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key_grant], protect=args.deletion_protection),
        )
        service = azure.storage.BlobServiceProperties(
            f"{name}-{purpose}-blob-service",
            resource_group_name=self._rg,
            account_name=account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": cfg.soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": cfg.soft_delete_days},
            change_feed={"enabled": True, "retention_in_days": max(cfg.soft_delete_days, 7)},
            opts=self._child,
        )
        azure.storage.ManagementPolicy(
            f"{name}-{purpose}-lifecycle",
            resource_group_name=self._rg,
            account_name=account.name,
            management_policy_name="default",
            policy={
                "rules": [
                    {
                        "name": "expire-old-versions" if "base_blob" not in lifecycle else "expire-old-logs",
                        "enabled": True,
                        "type": "Lifecycle",
                        "definition": {"filters": {"blob_types": ["blockBlob"]}, "actions": lifecycle},
                    }
                ]
            },
            opts=self._child,
        )
        # Data access is logged by the blob service, not by the account: the diagnostic setting targets it.
        self._diagnostics(
            service,
            f"{purpose}-blob",
            account.id.apply(lambda i: f"{i}/blobServices/default"),
            logs=[{"category": c, "enabled": True} for c in logs],
            metrics=[{"category": "Transaction", "enabled": True}],
        )
        return account, service

    def _flow_log(self, key_grant: pulumi.Resource) -> None:
        """VNet flow logs (the successor of NSG flow logs) into an account of their own (MAESTRO-NET-004)."""
        name, cfg = self._base_name, self._cfg
        account, _ = self._account(
            "flowlogs",
            key_grant,
            lifecycle={
                "base_blob": {"delete": {"days_after_modification_greater_than": cfg.log_retention_days}},
                "version": {"delete": {"days_after_creation_greater_than": cfg.soft_delete_days}},
            },
            # Network Watcher's own appends are not worth a log line each; reads and deletes of the evidence are.
            logs=("StorageRead", "StorageDelete"),
            # Network Watcher writes through the public endpoint as a trusted Azure service; nothing else passes.
            private=False,
        )
        self.flow_log_account = account
        identity = self._identity("flowlogs")
        grant = self._assign("flowlogs-blob", "blob_data_contributor", identity.principal_id, account.id)
        # Named `<vnet resource name>-flow-log`: the policy pack pairs flow logs with their network by that prefix.
        # Retention is the account's lifecycle rule (the flow log's own retention setting is being retired).
        self.flow_log = azure.network.FlowLog(
            f"{name}-vnet-flow-log",
            resource_group_name=cfg.network_watcher_resource_group,
            network_watcher_name=cfg.watcher_name,
            flow_log_name=f"{self._base}-vnet",
            location=cfg.location,
            target_resource_id=self.vnet.id,
            storage_id=account.id,
            enabled=True,
            format={"type": "JSON", "version": 2},
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )

    # --- redis ---------------------------------------------------------------------------------------------

    def _redis(self) -> None:
        name, cfg, args = self._base_name, self._cfg, self._args
        premium = cfg.redis_sku == "Premium"
        self.redis = azure.redis.Redis(
            f"{name}-redis",
            resource_group_name=self._rg,
            name=f"{self._base}-redis",
            location=cfg.location,
            sku={"name": cfg.redis_sku, "family": "P" if premium else "C", "capacity": cfg.redis_capacity},
            enable_non_ssl_port=False,
            minimum_tls_version="1.2",
            public_network_access="Disabled",
            redis_version="6",
            zones=list(cfg.zones) or None,
            replicas_per_primary=1 if premium else None,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.deletion_protection),
        )
        self._private_endpoint("redis", self.redis.id, "redisCache", REDIS_DNS_ZONE)

    # --- workload identity ---------------------------------------------------------------------------------

    def _identities(self) -> dict[str, WorkloadIdentity]:
        name = self._base_name
        issuer = self.cluster.oidc_issuer_profile.apply(lambda p: (p.issuer_url if p is not None else "") or "")
        result: dict[str, WorkloadIdentity] = {}
        for key, request in self._args.identities.items():
            identity = self._identity(key, tags={**self._tags, "bucket": request.bucket})
            azure.managedidentity.FederatedIdentityCredential(
                f"{name}-{key}-federation",
                resource_group_name=self._rg,
                resource_name_=identity.name,
                federated_identity_credential_resource_name=f"{request.namespace}-{request.service_account}",
                issuer=issuer,
                subject=f"system:serviceaccount:{request.namespace}:{request.service_account}",
                audiences=[WORKLOAD_IDENTITY_AUDIENCE],
                opts=self._child,
            )
            # The only data-plane grant: blobs of this identity's own container.
            self._assign(
                f"{key}-blob", "blob_data_contributor", identity.principal_id, self.containers[request.bucket].id
            )
            result[key] = WorkloadIdentity(
                namespace=request.namespace,
                service_account=request.service_account,
                annotations={"azure.workload.identity/client-id": identity.client_id},
                pod_labels={"azure.workload.identity/use": "true"},
            )
        return result


def _nsg_rule(name: str, priority: int, source: str, ports: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "priority": priority,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp" if source == "Internet" else "*",
        "source_address_prefix": source,
        "source_port_range": "*",
        "destination_address_prefix": "*",
        "destination_port_range": ports,
    }


def _agic_object_id(profiles: Any) -> str:
    """The object id of the AGIC add-on's identity (known after the cluster is created)."""
    try:
        return str(profiles["ingressApplicationGateway"].identity.object_id or "")
    except (KeyError, TypeError, AttributeError):
        return ""


def build_azure_foundation(
    name: str,
    config: MaestroConfig,
    ports: Ports,
    identities: Mapping[str, IdentityRequest],
    opts: pulumi.ResourceOptions | None = None,
) -> FoundationOutputs:
    """The Azure Foundation for a validated stack config (what `MaestroPlatform` calls when cloud is azure)."""
    args = foundation_args(AzureFoundationArgs, "azure", config, ports, identities)
    return AzureFoundation(name, args, opts=opts).outputs
