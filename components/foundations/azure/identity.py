"""Managed identities and role assignments, and Workload Identity: one user-assigned identity per requested
Kubernetes service account, federated with the cluster's OIDC issuer for that account only, allowed only on the
blobs of its one container."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_azure_native as azure

from components.foundations.azure.scope import AzureScope
from components.foundations.contract import BucketPurpose, WorkloadIdentity

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


def assign(
    scope: AzureScope, suffix: str, role: str, principal: pulumi.Input[str], target: pulumi.Input[str]
) -> azure.authorization.RoleAssignment:
    """`role` (a key of `ROLES`) for the service principal `principal` on `target`, `f"{name}-{suffix}"`."""
    return azure.authorization.RoleAssignment(
        f"{scope.name}-{suffix}",
        principal_id=principal,
        principal_type="ServicePrincipal",
        role_definition_id=(
            f"/subscriptions/{scope.args.config.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{ROLES[role]}"
        ),
        scope=target,
        opts=scope.child,
    )


def managed_identity(
    scope: AzureScope, suffix: str, *, resource_name: str | None = None, tags: Mapping[str, str] | None = None
) -> azure.managedidentity.UserAssignedIdentity:
    """A user-assigned managed identity: `<name>-<suffix>-identity` in Pulumi, `<prefix>-<env>-<resource_name or
    suffix>` in Azure, in the Foundation's resource group and location."""
    return azure.managedidentity.UserAssignedIdentity(
        f"{scope.name}-{suffix}-identity",
        resource_group_name=scope.rg,
        resource_name_=f"{scope.base}-{resource_name or suffix}",
        location=scope.args.config.location,
        tags=dict(tags) if tags is not None else scope.tags,
        opts=scope.child,
    )


def workload_identities(
    scope: AzureScope,
    cluster: azure.containerservice.ManagedCluster,
    containers: Mapping[BucketPurpose, azure.storage.BlobContainer],
) -> dict[str, WorkloadIdentity]:
    issuer = cluster.oidc_issuer_profile.apply(lambda p: (p.issuer_url if p is not None else "") or "")
    result: dict[str, WorkloadIdentity] = {}
    for key, request in scope.args.identities.items():
        identity = managed_identity(scope, key, tags={**scope.tags, "bucket": request.bucket})
        azure.managedidentity.FederatedIdentityCredential(
            f"{scope.name}-{key}-federation",
            resource_group_name=scope.rg,
            resource_name_=identity.name,
            federated_identity_credential_resource_name=f"{request.namespace}-{request.service_account}",
            issuer=issuer,
            subject=f"system:serviceaccount:{request.namespace}:{request.service_account}",
            audiences=[WORKLOAD_IDENTITY_AUDIENCE],
            opts=scope.child,
        )
        # The only data-plane grant: blobs of this identity's own container.
        assign(scope, f"{key}-blob", "blob_data_contributor", identity.principal_id, containers[request.bucket].id)
        result[key] = WorkloadIdentity(
            namespace=request.namespace,
            service_account=request.service_account,
            annotations={"azure.workload.identity/client-id": identity.client_id},
            pod_labels={"azure.workload.identity/use": "true"},
        )
    return result
