"""Storage: a backup and an artifact account (one container each), and one for the VNet flow logs. Every account has
the platform's baseline (no public blobs, TLS 1.2, Entra ID only, CMK with infrastructure encryption, versioning, soft
delete, a lifecycle rule, blob access logged to the workspace); the prod backup container is immutable (version-level
WORM) for the backup retention. VNet flow logs go to their own account, written by Network Watcher with a managed
identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.foundations.azure.identity import assign, managed_identity
from components.foundations.azure.keys import Keys
from components.foundations.azure.logs import diagnostics
from components.foundations.azure.network import BLOB_DNS_ZONE, Network, private_endpoint
from components.foundations.azure.scope import AzureScope
from components.foundations.contract import BUCKET_PURPOSES, BucketPurpose

# Blob service log categories sent to Log Analytics: who read, wrote or deleted what (MAESTRO-STO-006).
BLOB_LOG_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")


@dataclass(frozen=True)
class Storage:
    containers: dict[BucketPurpose, azure.storage.BlobContainer]
    """The backup and artifact containers (each the only one in its account)."""
    container_names: dict[BucketPurpose, pulumi.Output[str]]
    """Their names (ours, deterministic), derived from the containers' ids so they carry the dependency."""
    account_names: dict[BucketPurpose, pulumi.Output[str]]
    """Their accounts' names, derived from the accounts' ids so they carry the dependency."""


@dataclass(frozen=True)
class _Accounts:
    """What every account of the Foundation shares: the identity that reads the key, its grant, the vault and key,
    and where blob access is logged."""

    identity: azure.managedidentity.UserAssignedIdentity
    key_grant: pulumi.Resource
    keys: Keys
    logs_workspace: azure.operationalinsights.Workspace


def storage(
    scope: AzureScope, net: Network, keys: Keys, logs_workspace: azure.operationalinsights.Workspace
) -> Storage:
    name, cfg, args = scope.name, scope.args.config, scope.args
    prod = args.environment == "prod"
    identity = managed_identity(scope, "storage")
    key_grant = assign(
        scope, "storage-cmk", "crypto_service_encryption_user", identity.principal_id, keys.keys["storage"].id
    )
    shared = _Accounts(identity=identity, key_grant=key_grant, keys=keys, logs_workspace=logs_workspace)
    made = Storage(containers={}, container_names={}, account_names={})
    for purpose in BUCKET_PURPOSES:
        account, service = _account(
            scope,
            shared,
            purpose,
            lifecycle={"version": {"delete": {"days_after_creation_greater_than": 30}}},
            logs=BLOB_LOG_CATEGORIES,
        )
        immutable = purpose == "backup" and prod
        container = azure.storage.BlobContainer(
            f"{name}-{purpose}-container",
            resource_group_name=scope.rg,
            account_name=account.name,
            container_name=purpose,
            public_access="None",
            # Version-level WORM: each backup version stays immutable for the retention period.
            immutable_storage_with_versioning={"enabled": True} if immutable else None,
            opts=scope.opts(depends_on=[service], protect=args.deletion_protection),
        )
        if immutable:
            azure.storage.BlobContainerImmutabilityPolicy(
                f"{name}-{purpose}-immutability",
                resource_group_name=scope.rg,
                account_name=account.name,
                container_name=container.name,
                immutability_policy_name="default",
                immutability_period_since_creation_in_days=args.postgres.backup_retention_days,
                allow_protected_append_writes_all=False,
                opts=scope.child,
            )
        private_endpoint(scope, net, f"{purpose}-blob", account.id, "blob", BLOB_DNS_ZONE)
        account_name = f"{cfg.name_prefix}{args.environment}{purpose}"
        made.account_names[purpose] = account.id.apply(lambda _, n=account_name: n)
        made.containers[purpose] = container
        made.container_names[purpose] = container.id.apply(lambda _, p=purpose: p)
    _flow_log(scope, net, shared)
    return made


def _account(
    scope: AzureScope,
    shared: _Accounts,
    purpose: str,
    *,
    lifecycle: dict[str, Any],
    logs: tuple[str, ...],
    private: bool = True,
) -> tuple[azure.storage.StorageAccount, azure.storage.BlobServiceProperties]:
    """A storage account with the platform's baseline (module docstring). `private` closes the public endpoint
    (clients use a private endpoint); otherwise its firewall admits trusted Azure services only."""
    name, cfg, args = scope.name, scope.args.config, scope.args
    account = azure.storage.StorageAccount(
        f"{name}-{purpose}",
        resource_group_name=scope.rg,
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
        identity={"type": "UserAssigned", "user_assigned_identities": [shared.identity.id]},
        encryption={
            "key_source": "Microsoft.Keyvault",
            "require_infrastructure_encryption": True,
            "identity": {"encryption_user_assigned_identity": shared.identity.id},
            "key_vault_properties": {
                "key_name": shared.keys.keys["storage"].id.apply(lambda _: "maestro-storage"),
                "key_vault_uri": shared.keys.vault.properties.apply(lambda p: p.vault_uri or ""),
            },
            "services": {"blob": {"enabled": True, "key_type": "Account"}},
        },
        tags={**scope.tags, "purpose": purpose},
        opts=scope.opts(depends_on=[shared.key_grant], protect=args.deletion_protection),
    )
    service = azure.storage.BlobServiceProperties(
        f"{name}-{purpose}-blob-service",
        resource_group_name=scope.rg,
        account_name=account.name,
        blob_services_name="default",
        is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": cfg.soft_delete_days},
        container_delete_retention_policy={"enabled": True, "days": cfg.soft_delete_days},
        change_feed={"enabled": True, "retention_in_days": max(cfg.soft_delete_days, 7)},
        opts=scope.child,
    )
    azure.storage.ManagementPolicy(
        f"{name}-{purpose}-lifecycle",
        resource_group_name=scope.rg,
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
        opts=scope.child,
    )
    # Data access is logged by the blob service, not by the account: the diagnostic setting targets it.
    diagnostics(
        scope,
        shared.logs_workspace,
        service,
        f"{purpose}-blob",
        account.id.apply(lambda i: f"{i}/blobServices/default"),
        logs=[{"category": c, "enabled": True} for c in logs],
        metrics=[{"category": "Transaction", "enabled": True}],
    )
    return account, service


def _flow_log(scope: AzureScope, net: Network, shared: _Accounts) -> None:
    """VNet flow logs (the successor of NSG flow logs) into an account of their own (MAESTRO-NET-004)."""
    name, cfg = scope.name, scope.args.config
    account, _ = _account(
        scope,
        shared,
        "flowlogs",
        lifecycle={
            "base_blob": {"delete": {"days_after_modification_greater_than": cfg.log_retention_days}},
            "version": {"delete": {"days_after_creation_greater_than": cfg.soft_delete_days}},
        },
        # Network Watcher's own appends are not worth a log line each; reads and deletes of the evidence are.
        logs=("StorageRead", "StorageDelete"),
        # Network Watcher writes through the public endpoint as a trusted Azure service; nothing else passes.
        private=False,
    )
    identity = managed_identity(scope, "flowlogs")
    grant = assign(scope, "flowlogs-blob", "blob_data_contributor", identity.principal_id, account.id)
    # Named `<vnet resource name>-flow-log`: the policy pack pairs flow logs with their network by that prefix.
    # Retention is the account's lifecycle rule (the flow log's own retention setting is being retired).
    azure.network.FlowLog(
        f"{name}-vnet-flow-log",
        resource_group_name=cfg.network_watcher_resource_group,
        network_watcher_name=cfg.watcher_name,
        flow_log_name=f"{scope.base}-vnet",
        location=cfg.location,
        target_resource_id=net.vnet.id,
        storage_id=account.id,
        enabled=True,
        format={"type": "JSON", "version": 2},
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        tags=scope.tags,
        opts=scope.opts(depends_on=[grant]),
    )
