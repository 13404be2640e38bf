"""The Azure Foundation: resource group, VNet, private AKS, Key Vault, storage, Azure Cache for Redis, the WAF policy
on an Application Gateway (AGIC) and workload identity, returned as `FoundationOutputs`.

Logs: storage access (blob reads, writes, deletes), the cluster and the gateway's WAF decisions go to the Log
Analytics workspace; VNet flow logs go to a storage account of their own.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure

from components.foundations.azure.cluster import STORAGE_CLASS, cluster
from components.foundations.azure.edge import INGRESS_CLASS, edge
from components.foundations.azure.identity import workload_identities
from components.foundations.azure.keys import keys
from components.foundations.azure.logs import workspace
from components.foundations.azure.network import network
from components.foundations.azure.redis import AZURE_REDIS_TLS_PORT, redis
from components.foundations.azure.scope import AzureFoundationArgs, AzureScope
from components.foundations.azure.storage import storage
from components.foundations.cloud import foundation_args
from components.foundations.contract import Foundation, FoundationArgs, FoundationOutputs, RedisEndpoint, bucket_refs


def build(name: str, args: FoundationArgs, opts: pulumi.ResourceOptions) -> FoundationOutputs:
    """The Azure Foundation `maestro:azure:Foundation` for a validated stack config."""
    azure_args = foundation_args(AzureFoundationArgs, "azure", args)
    cfg = azure_args.config
    foundation = Foundation("azure", name, opts)
    resource_group = azure.resources.ResourceGroup(
        f"{name}-rg",
        resource_group_name=f"{cfg.name_prefix}-{azure_args.environment}-rg",
        location=cfg.location,
        tags=azure_args.managed_tags,
        opts=pulumi.ResourceOptions(parent=foundation),
    )
    scope = AzureScope(foundation, name, azure_args, resource_group)
    net = network(scope)
    logs = workspace(scope)
    key = keys(scope)
    public = edge(scope, net, key, logs)
    aks = cluster(scope, net, key, public.gateway, logs)
    stored = storage(scope, net, key, logs)
    cache = redis(scope, net)
    workload_ids = workload_identities(scope, aks.cluster, stored.containers)

    # Storage-account level CMK: writers need no key parameter.
    refs = bucket_refs("azure", stored.container_names, cfg.location)
    outputs = FoundationOutputs(
        cloud="azure",
        k8s_provider=aks.provider,
        cluster_name=aks.name,
        kubeconfig=pulumi.Output.secret(aks.kubeconfig),
        storage_class=STORAGE_CLASS,
        ingress_class=INGRESS_CLASS,
        ingress_annotations=public.ingress_annotations,
        # AGIC sends traffic from the gateway's instances, which live in the gateway subnet.
        ingress_peers=[{"ipBlock": {"cidr": cfg.appgw_subnet_cidr}}],
        service_cidrs=(cfg.endpoints_subnet_cidr,),
        backup_bucket=refs["backup"],
        artifact_bucket=refs["artifact"],
        identities=workload_ids,
        key_ids={purpose: k.key_uri_with_version for purpose, k in key.keys.items()},
        waf_id=public.waf_policy.id,
        redis=RedisEndpoint(
            host=cache.host_name,
            port=AZURE_REDIS_TLS_PORT,
            password=pulumi.Output.secret(
                cache.access_keys.apply(lambda k: (k.primary_key if k is not None else "") or "")
            ),
            tls=True,
        ),
        registry=None,
        ready=[aks.cluster],
        extra_outputs={
            "azureResourceGroup": scope.rg,
            "azureBackupStorageAccount": stored.account_names["backup"],
            "azureArtifactStorageAccount": stored.account_names["artifact"],
        },
    )
    foundation.register_outputs({"cluster_name": aks.name, "waf_id": public.waf_policy.id})
    return outputs
