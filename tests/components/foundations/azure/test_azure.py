"""The Azure Foundation under mocks, for dev-azure and prod-azure: security per resource type, workload identity
wiring, the WAF attached to the API's Application Gateway, prod versus dev defaults. What both clouds do alike (the
program evaluates with the Foundation, the API reaches managed Redis over TLS) is tested once in
tests/components/foundations/test_cloud.py."""

from __future__ import annotations

from typing import Any

import pytest

from components.foundations.azure.edge import APPGW_CERTIFICATE, INGRESS_CLASS
from components.foundations.azure.identity import ROLES, WORKLOAD_IDENTITY_AUDIENCE
from components.foundations.azure.storage import BLOB_LOG_CATEGORIES
from components.platform import IDENTITIES
from maestro.offline import mockrun
from tests.components.stacks import evaluated

pytestmark = pytest.mark.stacks

STACKS = ("dev-azure", "prod-azure")


def _inputs(r: mockrun.RecordedResource) -> dict[str, Any]:
    return dict(mockrun.plain(r.inputs))


def _all(stack: str, type_token: str) -> list[tuple[mockrun.RecordedResource, dict[str, Any]]]:
    return [(r, _inputs(r)) for r in evaluated(stack).of_type(type_token)]


def _one(stack: str, type_token: str) -> dict[str, Any]:
    found = _all(stack, type_token)
    assert len(found) == 1, [r.urn for r, _ in found]
    return found[0][1]


def _accounts(stack: str) -> dict[str, tuple[mockrun.RecordedResource, dict[str, Any]]]:
    return {i["tags"]["purpose"]: (r, i) for r, i in _all(stack, "azure-native:storage:StorageAccount")}


def _containers(stack: str) -> dict[str, mockrun.RecordedResource]:
    return {i["containerName"]: r for r, i in _all(stack, "azure-native:storage:BlobContainer")}


def _role(name: str) -> str:
    return ROLES[name]


@pytest.mark.parametrize("stack", STACKS)
def test_storage_accounts_are_private_tls12_keyless_and_cmk_encrypted(stack: str) -> None:
    key = next(i for _, i in _all(stack, "azure-native:keyvault:Key") if i["keyName"] == "maestro-storage")
    accounts = _accounts(stack)
    assert set(accounts) == {"backup", "artifact", "flowlogs"}
    for resource, a in accounts.values():
        assert a["allowBlobPublicAccess"] is False, resource.urn
        assert a["minimumTlsVersion"] == "TLS1_2" and a["enableHttpsTrafficOnly"] is True, resource.urn
        assert a["allowSharedKeyAccess"] is False, resource.urn  # workload identity covers every reader/writer
        assert a["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "AzureServices"}, resource.urn
        assert a["encryption"]["keySource"] == "Microsoft.Keyvault", resource.urn
        assert a["encryption"]["keyVaultProperties"]["keyName"] == key["keyName"]
        assert a["encryption"]["requireInfrastructureEncryption"] is True
    for _, c in _all(stack, "azure-native:storage:BlobContainer"):
        assert c["publicAccess"] == "None"
    for _, s in _all(stack, "azure-native:storage:BlobServiceProperties"):
        assert s["isVersioningEnabled"] is True
        assert s["deleteRetentionPolicy"]["enabled"] and s["containerDeleteRetentionPolicy"]["enabled"]
    # The data accounts are reachable only through a private endpoint in the VNet; the flow log account only by
    # trusted Azure services (Network Watcher) through its firewalled public endpoint.
    assert {p: a["publicNetworkAccess"] for p, (_, a) in accounts.items()} == {
        "backup": "Disabled",
        "artifact": "Disabled",
        "flowlogs": "Enabled",
    }
    endpoints = [i for _, i in _all(stack, "azure-native:network:PrivateEndpoint")]
    assert not [e for e in endpoints if accounts["flowlogs"][0].id in str(e)]
    for purpose in ("backup", "artifact"):
        resource = accounts[purpose][0]
        links = [e for e in endpoints if e["privateLinkServiceConnections"][0]["privateLinkServiceId"] == resource.id]
        assert len(links) == 1 and links[0]["privateLinkServiceConnections"][0]["groupIds"] == ["blob"]


def test_prod_backups_are_immutable_and_geo_redundant_dev_is_neither() -> None:
    prod = _containers("prod-azure")
    policies = _all("prod-azure", "azure-native:storage:BlobContainerImmutabilityPolicy")
    assert len(policies) == 1
    assert policies[0][1]["immutabilityPeriodSinceCreationInDays"] == 35
    assert _inputs(prod["backup"])["immutableStorageWithVersioning"] == {"enabled": True}
    assert "immutableStorageWithVersioning" not in _inputs(prod["artifact"])
    assert not _all("dev-azure", "azure-native:storage:BlobContainerImmutabilityPolicy")
    assert "immutableStorageWithVersioning" not in _inputs(_containers("dev-azure")["backup"])
    assert {a["sku"]["name"] for _, a in _accounts("prod-azure").values()} == {"Standard_GZRS"}
    assert {a["sku"]["name"] for _, a in _accounts("dev-azure").values()} == {"Standard_ZRS"}


@pytest.mark.parametrize("stack", STACKS)
def test_key_vault_keys_rotate_and_the_vault_is_locked_down(stack: str) -> None:
    vault = _one(stack, "azure-native:keyvault:Vault")["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    assert vault["networkAcls"]["defaultAction"] == "Deny"
    keys = _all(stack, "azure-native:keyvault:Key")
    assert {k["keyName"] for _, k in keys} == {"maestro-cluster", "maestro-storage"}
    for resource, k in keys:
        actions = {a["action"]["type"]: a["trigger"] for a in k["properties"]["rotationPolicy"]["lifetimeActions"]}
        assert actions["rotate"] == {"timeAfterCreate": "P90D"}, resource.urn
        assert k["properties"]["kty"] == "RSA-HSM"


@pytest.mark.parametrize("stack", STACKS)
def test_aks_uses_workload_identity_cni_with_network_policy_and_kms(stack: str) -> None:
    aks = _one(stack, "azure-native:containerservice:ManagedCluster")
    cluster_key = next(r for r, k in _all(stack, "azure-native:keyvault:Key") if k["keyName"] == "maestro-cluster")
    assert aks["oidcIssuerProfile"]["enabled"] is True
    assert aks["securityProfile"]["workloadIdentity"]["enabled"] is True
    kms = aks["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True and kms["keyId"] == cluster_key.outputs["keyUriWithVersion"]
    assert kms["keyVaultNetworkAccess"] == "Private" and aks["apiServerAccessProfile"]["enableVnetIntegration"]
    net = aks["networkProfile"]
    assert net["networkPlugin"] == "azure" and net["networkPolicy"] == "cilium"
    assert aks["disableLocalAccounts"] is True and aks["aadProfile"]["enableAzureRBAC"] is True
    pool = aks["agentPoolProfiles"][0]
    assert pool["enableNodePublicIP"] is False and pool["enableEncryptionAtHost"] is True
    # The control plane's identity may use the cluster key, nothing more on the vault.
    identity = next(
        r
        for r, i in _all(stack, "azure-native:managedidentity:UserAssignedIdentity")
        if i["resourceName"].endswith("-aks")
    )
    grants = [
        g
        for _, g in _all(stack, "azure-native:authorization:RoleAssignment")
        if g["principalId"] == identity.outputs["principalId"]
    ]
    kms_grants = [g for g in grants if g["roleDefinitionId"].endswith(_role("crypto_user"))]
    assert [g["scope"] for g in kms_grants] == [cluster_key.id]


@pytest.mark.parametrize("stack", STACKS)
def test_redis_is_tls_only(stack: str) -> None:
    redis = _one(stack, "azure-native:redis:Redis")
    assert redis["enableNonSslPort"] is False
    assert redis["minimumTlsVersion"] == "1.2"
    assert redis["publicNetworkAccess"] == "Disabled"
    # The API's rediss:// URL on Azure Cache's port: tests/components/foundations/test_cloud.py.


@pytest.mark.parametrize("stack", STACKS)
def test_waf_policy_runs_microsoft_default_and_bot_rules_with_a_rate_limit(stack: str) -> None:
    policy = _one(stack, "azure-native:network:WebApplicationFirewallPolicy")
    sets = {s["ruleSetType"]: s["ruleSetVersion"] for s in policy["managedRules"]["managedRuleSets"]}
    assert sets == {"Microsoft_DefaultRuleSet": "2.1", "Microsoft_BotManagerRuleSet": "1.1"}
    assert policy["policySettings"]["state"] == "Enabled" and policy["policySettings"]["requestBodyCheck"] is True
    (limit,) = policy["customRules"]
    assert limit["ruleType"] == "RateLimitRule" and limit["rateLimitThreshold"] == 2000
    assert limit["rateLimitDuration"] == "FiveMins" and limit["action"] == "Block"


def test_waf_prevents_in_prod_and_detects_in_dev() -> None:
    modes = {s: _one(s, "azure-native:network:WebApplicationFirewallPolicy")["policySettings"]["mode"] for s in STACKS}
    assert modes == {"prod-azure": "Prevention", "dev-azure": "Detection"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_waf_is_attached_to_the_gateway_in_front_of_the_api(stack: str) -> None:
    resources = evaluated(stack)
    waf = next(r for r in resources if r.type == "azure-native:network:WebApplicationFirewallPolicy")
    gateway_resource = next(r for r in resources if r.type == "azure-native:network:ApplicationGateway")
    gateway = _inputs(gateway_resource)
    assert gateway["firewallPolicy"]["id"] == waf.id
    assert gateway["sku"] == {"name": "WAF_v2", "tier": "WAF_v2"}
    assert gateway["sslPolicy"]["policyName"] == "AppGwSslPolicy20220101S"
    # AGIC (the cluster add-on) drives exactly this gateway...
    aks = _one(stack, "azure-native:containerservice:ManagedCluster")
    agic = aks["addonProfiles"]["ingressApplicationGateway"]
    assert agic["enabled"] is True and agic["config"]["applicationGatewayId"] == gateway_resource.id
    # ...and the API's Ingress is an AGIC Ingress that names the same WAF policy.
    api = next(
        _inputs(i)
        for i in resources.of_type("kubernetes:networking.k8s.io/v1:Ingress")
        if _inputs(i)["metadata"]["name"] == "maestro-api"
    )
    assert api["spec"]["ingressClassName"] == INGRESS_CLASS
    assert api["metadata"]["annotations"]["appgw.ingress.kubernetes.io/waf-policy-for-path"] == waf.id
    diagnostics = [
        d for r, d in _all(stack, "azure-native:monitor:DiagnosticSetting") if d["resourceUri"] == gateway_resource.id
    ]
    assert len(diagnostics) == 1  # WAF decisions are logged


@pytest.mark.parametrize("stack", STACKS)
def test_each_identity_reaches_exactly_its_own_container(stack: str) -> None:
    resources = evaluated(stack)
    containers = _containers(stack)
    identities = {
        i["resourceName"]: (r, i) for r, i in _all(stack, "azure-native:managedidentity:UserAssignedIdentity")
    }
    federations = [i for _, i in _all(stack, "azure-native:managedidentity:FederatedIdentityCredential")]
    grants = [i for _, i in _all(stack, "azure-native:authorization:RoleAssignment")]
    k8s_sas = {
        (_inputs(s)["metadata"]["namespace"], _inputs(s)["metadata"]["name"]): _inputs(s)["metadata"]
        for s in resources.of_type("kubernetes:core/v1:ServiceAccount")
    }
    issuer = _one(stack, "azure-native:containerservice:ManagedCluster")
    issuer_url = next(r for r in resources if r.type == "azure-native:containerservice:ManagedCluster").outputs[
        "oidcIssuerProfile"
    ]["issuerURL"]
    assert issuer["oidcIssuerProfile"]["enabled"]
    flow_logs_account = _accounts(stack)["flowlogs"][0].id
    blob_grants = [
        g
        for g in grants
        if g["roleDefinitionId"].endswith(_role("blob_data_contributor")) and g["scope"] != flow_logs_account
    ]
    assert len(blob_grants) == len(IDENTITIES), "one data-plane grant per identity, nothing else"
    for key, request in IDENTITIES.items():
        resource, _ = next(v for name, v in identities.items() if name.endswith(f"-{key}"))
        principal, client = resource.outputs["principalId"], resource.outputs["clientId"]
        mine = [g for g in grants if g["principalId"] == principal]
        assert [(g["scope"], g["roleDefinitionId"].rsplit("/", 1)[1]) for g in mine] == [
            (containers[request.bucket].id, _role("blob_data_contributor"))
        ]
        subject = f"system:serviceaccount:{request.namespace}:{request.service_account}"
        federation = [f for f in federations if f["subject"] == subject]
        assert len(federation) == 1
        assert federation[0]["issuer"] == issuer_url and federation[0]["audiences"] == [WORKLOAD_IDENTITY_AUDIENCE]
        ksa = k8s_sas[(request.namespace, request.service_account)]
        assert ksa["annotations"]["azure.workload.identity/client-id"] == client


def test_prod_and_dev_defaults_differ_as_documented() -> None:
    aks = {s: _one(s, "azure-native:containerservice:ManagedCluster") for s in STACKS}
    assert aks["prod-azure"]["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert aks["dev-azure"]["apiServerAccessProfile"]["enablePrivateCluster"] is False
    assert aks["dev-azure"]["apiServerAccessProfile"]["authorizedIPRanges"] == ["203.0.113.0/24"]
    assert aks["prod-azure"]["agentPoolProfiles"][0]["availabilityZones"] == ["1", "2", "3"]
    assert "availabilityZones" not in aks["dev-azure"]["agentPoolProfiles"][0]
    assert (aks["prod-azure"]["sku"]["tier"], aks["dev-azure"]["sku"]["tier"]) == ("Standard", "Free")
    redis = {s: _one(s, "azure-native:redis:Redis") for s in STACKS}
    assert redis["prod-azure"]["sku"] == {"name": "Premium", "family": "P", "capacity": 1}
    assert redis["dev-azure"]["sku"] == {"name": "Standard", "family": "C", "capacity": 1}
    retention = {
        s: {i["deleteRetentionPolicy"]["days"] for _, i in _all(s, "azure-native:storage:BlobServiceProperties")}
        for s in STACKS
    }
    assert retention == {"prod-azure": {30}, "dev-azure": {7}}


@pytest.mark.parametrize("stack", STACKS)
def test_every_gateway_security_rule_says_why_it_exists(stack: str) -> None:
    for resource, nsg in _all(stack, "azure-native:network:NetworkSecurityGroup"):
        for rule in nsg.get("securityRules", []):
            assert rule.get("description", "").strip(), f"{resource.urn}: {rule['name']}"
    appgw = next(n for r, n in _all(stack, "azure-native:network:NetworkSecurityGroup") if r.name.endswith("-appgw"))
    assert [r["name"] for r in appgw["securityRules"]] == [
        "AllowGatewayManager",
        "AllowAzureLoadBalancer",
        "AllowHttpsFromInternet",
        "AllowHttpFromInternet",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_vnet_has_a_flow_log_written_by_its_own_identity(stack: str) -> None:
    resources = evaluated(stack)
    vnet = next(r for r in resources if r.type == "azure-native:network:VirtualNetwork")
    flow_logs = _all(stack, "azure-native:network:FlowLog")
    assert len(flow_logs) == 1
    resource, flow_log = flow_logs[0]
    assert resource.name == f"{vnet.name}-flow-log"  # the name the policy pack pairs with the network
    account = _accounts(stack)["flowlogs"][0]
    assert flow_log["targetResourceId"] == vnet.id and flow_log["storageId"] == account.id
    assert flow_log["enabled"] is True and flow_log["format"] == {"type": "JSON", "version": 2}
    assert (flow_log["networkWatcherName"], flow_log["resourceGroupName"]) == (
        "NetworkWatcher_westeurope",
        "NetworkWatcherRG",
    )
    assert flow_log["location"] == "westeurope" and flow_log["tags"]["owner"]
    # The account takes no keys, so the flow log writes with a managed identity that may write to that account only.
    (identity_id,) = flow_log["identity"]["userAssignedIdentities"]
    identity = next(r for r in resources if r.id == identity_id)
    grants = [
        g
        for _, g in _all(stack, "azure-native:authorization:RoleAssignment")
        if g["principalId"] == identity.outputs["principalId"]
    ]
    assert [(g["scope"], g["roleDefinitionId"].rsplit("/", 1)[1]) for g in grants] == [
        (account.id, _role("blob_data_contributor"))
    ]
    lifecycle = next(
        p for r, p in _all(stack, "azure-native:storage:ManagementPolicy") if r.name.endswith("-flowlogs-lifecycle")
    )
    actions = lifecycle["policy"]["rules"][0]["definition"]["actions"]
    assert actions["baseBlob"]["delete"]["daysAfterModificationGreaterThan"] == 90  # logRetentionDays


@pytest.mark.parametrize("stack", STACKS)
def test_blob_access_of_every_account_is_logged_to_the_workspace(stack: str) -> None:
    workspace = next(r for r in evaluated(stack) if r.type == "azure-native:operationalinsights:Workspace")
    settings = {d["resourceUri"]: (r, d) for r, d in _all(stack, "azure-native:monitor:DiagnosticSetting")}
    for purpose, (account, _) in _accounts(stack).items():
        resource, setting = settings[f"{account.id}/blobServices/default"]
        assert resource.name.startswith(f"{account.name}-"), resource.urn  # the policy pack's pairing rule
        assert setting["workspaceId"] == workspace.id
        categories = {log["category"] for log in setting["logs"] if log["enabled"]}
        expected = {"StorageRead", "StorageDelete"} if purpose == "flowlogs" else set(BLOB_LOG_CATEGORIES)
        assert categories == expected, purpose
    assert len(settings) == len(_accounts(stack)) + 2  # plus the gateway and the cluster


def _api_ingress(stack: str) -> dict[str, Any]:
    return next(
        _inputs(i)
        for i in evaluated(stack).of_type("kubernetes:networking.k8s.io/v1:Ingress")
        if _inputs(i)["metadata"]["name"] == "maestro-api"
    )


def test_prod_serves_the_api_over_tls_from_key_vault_and_redirects_http() -> None:
    resources = evaluated("prod-azure")
    vault = next(r for r in resources if r.type == "azure-native:keyvault:Vault")
    gateway = _one("prod-azure", "azure-native:network:ApplicationGateway")
    assert gateway["sslCertificates"] == [
        {
            "name": APPGW_CERTIFICATE,
            "keyVaultSecretId": "https://acmemaestro-prod-kv.vault.azure.net/secrets/maestro-api",
        }
    ]
    assert "data" not in gateway["sslCertificates"][0] and "password" not in gateway["sslCertificates"][0]
    (identity_id,) = gateway["identity"]["userAssignedIdentities"]
    identity = next(r for r in resources if r.id == identity_id)
    grants = [
        g
        for _, g in _all("prod-azure", "azure-native:authorization:RoleAssignment")
        if g["principalId"] == identity.outputs["principalId"]
    ]
    assert [(g["scope"], g["roleDefinitionId"].rsplit("/", 1)[1]) for g in grants] == [
        (f"{vault.id}/secrets/maestro-api", _role("key_vault_secrets_user"))
    ]
    annotations = _api_ingress("prod-azure")["metadata"]["annotations"]
    assert annotations["appgw.ingress.kubernetes.io/appgw-ssl-certificate"] == APPGW_CERTIFICATE
    assert annotations["appgw.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert resources.outputs["apiUrl"] == "https://api.maestro.example.com"


def test_dev_without_a_certificate_serves_plain_http() -> None:
    gateway = _one("dev-azure", "azure-native:network:ApplicationGateway")
    assert "sslCertificates" not in gateway and "identity" not in gateway
    annotations = _api_ingress("dev-azure")["metadata"]["annotations"]
    assert not {k for k in annotations if k.endswith(("/appgw-ssl-certificate", "/ssl-redirect"))}


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_with_a_federated_identity_is_labelled_for_workload_identity(stack: str) -> None:
    resources = evaluated(stack)
    use = {"azure.workload.identity/use": "true"}
    federated = {
        tuple(_inputs(r)["subject"].split(":")[2:])
        for r in resources.of_type("azure-native:managedidentity:FederatedIdentityCredential")
    }
    assert federated == {(req.namespace, req.service_account) for req in IDENTITIES.values()}
    sas = {
        (m["namespace"], m["name"]): m
        for m in (_inputs(r)["metadata"] for r in resources.of_type("kubernetes:core/v1:ServiceAccount"))
    }
    for namespace, account in federated:
        assert sas[(namespace, account)]["annotations"]["azure.workload.identity/client-id"].startswith("client-")
    # Pods we template: every one running as a federated service account carries the label, and only those that
    # need the token (the MLflow migration Job mounts no service account token at all).
    running_as: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in resources:
        if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            spec = _inputs(r)["spec"]
            key = (_inputs(r)["metadata"]["namespace"], spec["template"]["spec"].get("serviceAccountName", "default"))
            running_as.setdefault(key, []).append(spec["template"]["metadata"]["labels"])
    mlflow = running_as[("maestro", "mlflow")]
    assert mlflow and all(labels.items() >= use.items() for labels in mlflow)
    for key, labels in running_as.items():
        if key not in federated:
            assert all("azure.workload.identity/use" not in lab for lab in labels), key
    # Spilo pods are created by the operator: the label is on the cluster manifest and inherited by its pods.
    cluster = _one(stack, "kubernetes:acid.zalan.do/v1:postgresql")
    assert cluster["metadata"]["labels"].items() >= use.items()
    operator = next(
        _inputs(r) for r in resources.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-operator")
    )
    assert operator["values"]["configKubernetes"]["inherited_labels"] == ["azure.workload.identity/use"]
    assert operator["values"]["configKubernetes"]["pod_service_account_name"] == "postgres-pod"
