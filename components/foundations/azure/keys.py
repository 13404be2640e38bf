"""Key Vault (premium, HSM-backed keys, RBAC, purge protection, closed network) and one rotating key per purpose."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_azure_native as azure

from components.foundations.azure.scope import AzureScope

KEY_PURPOSES = ("cluster", "storage")


@dataclass(frozen=True)
class Keys:
    vault: azure.keyvault.Vault
    """`<prefix>-<env>-kv`; also holds the API's TLS certificate (azure.tlsCertificateName)."""
    keys: dict[str, azure.keyvault.Key]
    """The keys by purpose (`KEY_PURPOSES`)."""


def keys(scope: AzureScope) -> Keys:
    name, cfg = scope.name, scope.args.config
    vault = azure.keyvault.Vault(
        f"{name}-vault",
        resource_group_name=scope.rg,
        vault_name=f"{scope.base}-kv",
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
        tags=scope.tags,
        opts=scope.protected,
    )
    rotate_after = f"P{cfg.key_rotation_days}D"
    made: dict[str, azure.keyvault.Key] = {}
    for purpose in KEY_PURPOSES:
        made[purpose] = azure.keyvault.Key(
            f"{name}-key-{purpose}",
            resource_group_name=scope.rg,
            vault_name=vault.name,
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
            tags=scope.tags,
            opts=scope.protected,
        )
    return Keys(vault=vault, keys=made)
