"""The GCP Foundation under mocks, for dev-gcp and prod-gcp: security per resource type, workload identity wiring,
the WAF in front of the API, prod versus dev defaults. What both clouds do alike (the program evaluates with the
Foundation, the API reaches managed Redis over TLS) is tested once in tests/components/foundations/test_cloud.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.foundations.gcp.edge import FRONTEND_CONFIG, GFE_RANGES, INGRESS_CLASS, WAF_BACKEND_CONFIG
from components.foundations.gcp.identity import BUCKET_OBJECT_ROLE
from components.foundations.gcp.keys import KEY_PURPOSES, SERVICE_AGENTS
from components.foundations.gcp.waf import OWASP_RULE_SETS
from components.foundations.ingress_nginx import INGRESS_CONTROLLER_POD, INGRESS_NAMESPACE, INGRESS_WEBHOOK_PORT
from components.platform import IDENTITIES
from components.workloads.namespaces import NAMES
from components.workloads.network import API
from maestro.offline import mockrun
from tests.components.stacks import PORTS, evaluated

pytestmark = pytest.mark.stacks

STACKS = ("dev-gcp", "prod-gcp")
GCS = "gcp:storage/bucket:Bucket"


def _inputs(r: mockrun.RecordedResource) -> dict[str, Any]:
    return dict(mockrun.plain(r.inputs))


def _one(stack: str, type_token: str) -> dict[str, Any]:
    found = evaluated(stack).of_type(type_token)
    assert len(found) == 1, [r.urn for r in found]
    return _inputs(found[0])


def _buckets(stack: str) -> dict[str, tuple[mockrun.RecordedResource, dict[str, Any]]]:
    return {_inputs(b)["labels"]["purpose"]: (b, _inputs(b)) for b in evaluated(stack).of_type(GCS)}


def _keys(stack: str) -> dict[str, mockrun.RecordedResource]:
    return {
        _inputs(k)["name"].removeprefix("maestro-"): k for k in evaluated(stack).of_type("gcp:kms/cryptoKey:CryptoKey")
    }


@pytest.mark.parametrize("stack", STACKS)
def test_buckets_are_private_cmek_encrypted_and_have_lifecycle_rules(stack: str) -> None:
    storage_key = _keys(stack)["storage"].id
    buckets = _buckets(stack)
    assert set(buckets) == {"backup", "artifact"}
    for resource, b in buckets.values():
        assert b["uniformBucketLevelAccess"] is True, resource.urn
        assert b["publicAccessPrevention"] == "enforced", resource.urn
        assert b["encryption"]["defaultKmsKeyName"] == storage_key, resource.urn
        assert b["forceDestroy"] is False, resource.urn
        actions = {r["action"]["type"] for r in b["lifecycleRules"]}
        assert "AbortIncompleteMultipartUpload" in actions and "Delete" in actions, resource.urn
    assert buckets["artifact"][1]["versioning"]["enabled"] is True


def test_prod_backups_are_kept_under_a_retention_policy_dev_backups_are_versioned() -> None:
    prod, dev = _buckets("prod-gcp")["backup"][1], _buckets("dev-gcp")["backup"][1]
    # 35 days of prod backups (maestro:postgres.backupRetentionDays) cannot be deleted or overwritten; GCS refuses
    # object versioning together with a retention policy, so versioning is off exactly there.
    assert prod["retentionPolicy"]["retentionPeriod"] == 35 * 86400
    assert prod["versioning"]["enabled"] is False
    assert "retentionPolicy" not in dev and dev["versioning"]["enabled"] is True


def test_prod_buckets_are_dual_region_with_turbo_replication_dev_is_single_region() -> None:
    for _, b in _buckets("prod-gcp").values():
        assert b["location"] == "EU" and b["rpo"] == "ASYNC_TURBO"
        assert b["customPlacementConfig"]["dataLocations"] == ["EUROPE-WEST1", "EUROPE-WEST4"]
    for _, b in _buckets("dev-gcp").values():
        assert b["location"] == "EUROPE-WEST1" and "rpo" not in b and "customPlacementConfig" not in b


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_rotates_and_only_its_service_agent_may_use_it(stack: str) -> None:
    keys = _keys(stack)
    assert set(keys) == set(KEY_PURPOSES)
    grants = [
        _inputs(g) | {"urn": g.urn} for g in evaluated(stack).of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    ]
    number = "210987654321" if stack.startswith("prod") else "123456789012"
    for purpose, key in keys.items():
        assert _inputs(key)["rotationPeriod"] == f"{90 * 86400}s", key.urn
        members = [g["member"] for g in grants if g["cryptoKeyId"] == key.id]
        assert members == [f"serviceAccount:service-{number}@{SERVICE_AGENTS[purpose]}"], key.urn
    assert all(g["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter" for g in grants)


@pytest.mark.parametrize("stack", STACKS)
def test_gke_is_private_shielded_with_workload_identity_dataplane_v2_and_kms_secrets(stack: str) -> None:
    cluster = _one(stack, "gcp:container/cluster:Cluster")
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["workloadIdentityConfig"]["workloadPool"] == f"{cluster['project']}.svc.id.goog"
    assert cluster["enableShieldedNodes"] is True
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": _keys(stack)["cluster"].id}
    assert cluster["enableLegacyAbac"] is False
    assert cluster["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False
    assert cluster["removeDefaultNodePool"] is True
    pool = _one(stack, "gcp:container/nodePool:NodePool")["nodeConfig"]
    assert pool["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert pool["workloadMetadataConfig"]["mode"] == "GKE_METADATA"  # pods cannot read the node's identity
    assert pool["bootDiskKmsKey"] == _keys(stack)["disk"].id
    assert pool["serviceAccount"].endswith(".iam.gserviceaccount.com") and "compute@" not in pool["serviceAccount"]


@pytest.mark.parametrize("stack", STACKS)
def test_network_has_private_subnet_with_secondary_ranges_flow_logs_and_nat(stack: str) -> None:
    subnet = _one(stack, "gcp:compute/subnetwork:Subnetwork")
    assert subnet["privateIpGoogleAccess"] is True
    assert {r["rangeName"] for r in subnet["secondaryIpRanges"]} == {"pods", "services"}
    assert subnet["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA" and subnet["logConfig"]["flowSampling"] > 0
    nat = _one(stack, "gcp:compute/routerNat:RouterNat")
    assert nat["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES" and nat["logConfig"]["enable"]
    assert _one(stack, "gcp:compute/network:Network")["autoCreateSubnetworks"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_memorystore_is_ha_with_auth_tls_and_cmek(stack: str) -> None:
    redis = _one(stack, "gcp:redis/instance:Instance")
    assert redis["tier"] == "STANDARD_HA"
    assert redis["authEnabled"] is True
    assert redis["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert redis["customerManagedKey"] == _keys(stack)["redis"].id
    # The API's rediss:// URL on Memorystore's port: tests/components/foundations/test_cloud.py.


@pytest.mark.parametrize("stack", STACKS)
def test_cloud_armor_runs_the_owasp_rule_sets_and_a_rate_limit(stack: str) -> None:
    policy = _one(stack, "gcp:compute/securityPolicy:SecurityPolicy")
    rules = policy["rules"]
    expressions = [r["match"]["expr"]["expression"] for r in rules if "expr" in r["match"]]
    for rule_set in OWASP_RULE_SETS:
        assert any(f"evaluatePreconfiguredWaf('{rule_set}', {{'sensitivity': 1}})" in e for e in expressions), rule_set
    method = next(e for e in expressions if "methodenforcement" in e)
    assert "request.method == 'PATCH'" in method  # the API's methods are exempt from CRS method enforcement
    limit = next(r for r in rules if r["action"] == "throttle")
    assert limit["rateLimitOptions"]["rateLimitThreshold"] == {"count": 2000, "intervalSec": 300}
    assert limit["rateLimitOptions"]["enforceOnKey"] == "IP"
    assert policy["advancedOptionsConfig"]["jsonParsing"] == "STANDARD"
    default = next(r for r in rules if r["priority"] == 2147483647)
    assert default["action"] == "allow"


def test_cloud_armor_blocks_in_prod_and_previews_in_dev() -> None:
    prod = _one("prod-gcp", "gcp:compute/securityPolicy:SecurityPolicy")["rules"]
    dev = _one("dev-gcp", "gcp:compute/securityPolicy:SecurityPolicy")["rules"]
    owasp = [r for r in prod if "expr" in r["match"]]
    assert len(owasp) == len(OWASP_RULE_SETS)
    assert all(r["action"] == "deny(403)" and r["preview"] is False for r in owasp)
    assert all(r["preview"] is True for r in dev if r["priority"] != 2147483647)


@pytest.mark.parametrize("stack", STACKS)
def test_the_waf_is_attached_to_the_api_through_the_backend_config(stack: str) -> None:
    resources = evaluated(stack)
    policy = next(r for r in resources if r.type == "gcp:compute/securityPolicy:SecurityPolicy")
    backend = _one(stack, "kubernetes:cloud.google.com/v1:BackendConfig")
    assert (backend["metadata"]["name"], backend["metadata"]["namespace"]) == (WAF_BACKEND_CONFIG, "ingress-nginx")
    assert backend["spec"]["securityPolicy"]["name"] == _inputs(policy)["name"]
    assert backend["spec"]["logging"]["enable"] is True
    # The ingress controller's Service (the only backend of the public load balancer) names that BackendConfig.
    controller = next(
        _inputs(r) for r in resources.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-ingress-nginx")
    )
    service = controller["values"]["controller"]["service"]
    assert json.loads(service["annotations"]["cloud.google.com/backend-config"]) == {"default": WAF_BACKEND_CONFIG}
    assert json.loads(service["annotations"]["cloud.google.com/neg"]) == {"ingress": True}
    assert service["type"] == "ClusterIP"  # reachable only through the load balancer
    ingresses = {
        _inputs(i)["metadata"]["name"]: _inputs(i) for i in resources.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    }
    edge = ingresses["maestro-edge"]
    assert edge["spec"]["ingressClassName"] == "gce"
    assert edge["spec"]["defaultBackend"]["service"]["name"] == "ingress-nginx-controller"
    assert edge["metadata"]["annotations"]["networking.gke.io/v1beta1.FrontendConfig"] == FRONTEND_CONFIG
    # ...and the API's Ingress is served by exactly that controller.
    api = ingresses["maestro-api"]
    assert (
        api["spec"]["ingressClassName"]
        == INGRESS_CLASS
        == controller["values"]["controller"]["ingressClassResource"]["name"]
    )
    assert {i["spec"].get("ingressClassName") for i in ingresses.values()} == {"gce", INGRESS_CLASS}


def test_prod_serves_https_only_with_a_managed_certificate_dev_serves_http() -> None:
    prod = _one("prod-gcp", "kubernetes:networking.gke.io/v1beta1:FrontendConfig")["spec"]
    assert prod["redirectToHttps"] == {"enabled": True}
    ssl = _one("prod-gcp", "gcp:compute/sSLPolicy:SSLPolicy")
    assert ssl["minTlsVersion"] == "TLS_1_2" and prod["sslPolicy"] == ssl["name"]
    cert = _one("prod-gcp", "kubernetes:networking.gke.io/v1:ManagedCertificate")
    assert cert["spec"]["domains"] == ["api.maestro.example.com"]
    assert not evaluated("dev-gcp").of_type("kubernetes:networking.gke.io/v1:ManagedCertificate")
    assert "redirectToHttps" not in _one("dev-gcp", "kubernetes:networking.gke.io/v1beta1:FrontendConfig")["spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_identity_reaches_exactly_its_own_bucket(stack: str) -> None:
    resources = evaluated(stack)
    buckets = {purpose: b["name"] for purpose, (_, b) in _buckets(stack).items()}
    accounts = {_inputs(a)["displayName"]: _inputs(a) for a in resources.of_type("gcp:serviceaccount/account:Account")}
    grants = [_inputs(g) for g in resources.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")]
    bindings = [_inputs(b) for b in resources.of_type("gcp:serviceaccount/iAMMember:IAMMember")]
    k8s_sas = {
        (_inputs(s)["metadata"]["namespace"], _inputs(s)["metadata"]["name"]): _inputs(s)["metadata"]
        for s in resources.of_type("kubernetes:core/v1:ServiceAccount")
    }
    assert len(grants) == len(IDENTITIES), "one bucket grant per identity, nothing else"
    project = _one(stack, "gcp:container/cluster:Cluster")["project"]
    for request in IDENTITIES.values():
        account = next(a for name, a in accounts.items() if f"{request.namespace}/{request.service_account}" in name)
        email = f"{account['accountId']}@{project}.iam.gserviceaccount.com"
        mine = [g for g in grants if g["member"] == f"serviceAccount:{email}"]
        assert [(g["bucket"], g["role"]) for g in mine] == [(buckets[request.bucket], BUCKET_OBJECT_ROLE)]
        wi = [b for b in bindings if b["member"].endswith(f"[{request.namespace}/{request.service_account}]")]
        assert len(wi) == 1 and wi[0]["role"] == "roles/iam.workloadIdentityUser"
        assert wi[0]["serviceAccountId"] == f"projects/{project}/serviceAccounts/{account['accountId']}"
        ksa = k8s_sas[(request.namespace, request.service_account)]
        assert ksa["annotations"]["iam.gke.io/gcp-service-account"] == email


def test_prod_and_dev_defaults_differ_as_documented() -> None:
    prod, dev = (_one(s, "gcp:container/cluster:Cluster") for s in ("prod-gcp", "dev-gcp"))
    assert prod["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert dev["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert dev["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [
        {"cidrBlock": "203.0.113.0/24", "displayName": "authorized-0"}
    ]
    assert (prod["releaseChannel"]["channel"], dev["releaseChannel"]["channel"]) == ("STABLE", "REGULAR")
    assert (prod["deletionProtection"], dev["deletionProtection"]) == (True, False)
    redis = {s: _one(s, "gcp:redis/instance:Instance") for s in ("prod-gcp", "dev-gcp")}
    assert (redis["prod-gcp"]["memorySizeGb"], redis["dev-gcp"]["memorySizeGb"]) == (5, 1)
    assert (redis["prod-gcp"]["deletionProtection"], redis["dev-gcp"]["deletionProtection"]) == (True, False)
    sampling = {
        s: _one(s, "gcp:compute/subnetwork:Subnetwork")["logConfig"]["flowSampling"] for s in ("prod-gcp", "dev-gcp")
    }
    assert sampling == {"prod-gcp": 0.5, "dev-gcp": 0.1}


@pytest.mark.parametrize("stack", STACKS)
def test_storage_access_is_logged_by_data_access_audit_logs(stack: str) -> None:
    audit = _one(stack, "gcp:projects/iAMAuditConfig:IAMAuditConfig")
    gcp_cfg = _one(stack, "gcp:container/cluster:Cluster")
    assert audit["project"] == gcp_cfg["project"]  # the project both buckets live in
    assert {b["project"] for _, b in _buckets(stack).values()} == {audit["project"]}
    assert audit["service"] == "storage.googleapis.com"
    assert sorted(c["logType"] for c in audit["auditLogConfigs"]) == ["DATA_READ", "DATA_WRITE"]
    assert not any(c.get("exemptedMembers") for c in audit["auditLogConfigs"])  # nobody's access goes unlogged


def _ingress_policies(stack: str) -> dict[str, dict[str, Any]]:
    return {
        i["metadata"]["name"]: i
        for i in (_inputs(r) for r in evaluated(stack).of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"))
        if i["metadata"]["namespace"] == INGRESS_NAMESPACE
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_ingress_namespace_is_default_deny_with_only_the_controllers_flows(stack: str) -> None:
    ports = PORTS
    master = _one(stack, "gcp:container/cluster:Cluster")["privateClusterConfig"]["masterIpv4CidrBlock"]
    policies = _ingress_policies(stack)
    assert set(policies) == {"default-deny", "allow-dns", "allow-kube-api", "controller"}
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    assert policies["allow-kube-api"]["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": master}}], "ports": [{"protocol": "TCP", "port": 443}]}
    ]
    assert "ingress" not in policies["allow-dns"]["spec"] and "ingress" not in policies["allow-kube-api"]["spec"]
    controller = policies["controller"]["spec"]
    assert controller["podSelector"] == {"matchLabels": INGRESS_CONTROLLER_POD}
    lb, webhook = controller["ingress"]
    assert sorted(p["ipBlock"]["cidr"] for p in lb["from"]) == sorted(GFE_RANGES)
    assert lb["ports"] == [{"protocol": "TCP", "port": ports.http}]
    assert webhook == {"from": [{"ipBlock": {"cidr": master}}], "ports": [{"protocol": "TCP", "port": 8443}]}
    assert controller["egress"] == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMES.app}},
                    "podSelector": {"matchLabels": API},
                }
            ],
            "ports": [{"protocol": "TCP", "port": ports.api}],
        }
    ]
    # The BackendConfig's health check probes the port the policy opens to the health checkers.
    backend = _one(stack, "kubernetes:cloud.google.com/v1:BackendConfig")
    assert backend["spec"]["healthCheck"]["port"] == ports.http
    # The webhook port the policy and the firewall open is the one the chart is told to use.
    controller_values = next(
        _inputs(r)
        for r in evaluated(stack).of_type("kubernetes:helm.sh/v3:Release")
        if r.name.endswith("-ingress-nginx")
    )["values"]
    assert controller_values["controller"]["admissionWebhooks"]["port"] == INGRESS_WEBHOOK_PORT
    firewall = _one(stack, "gcp:compute/firewall:Firewall")
    node_sa = next(
        r for r in evaluated(stack).of_type("gcp:serviceaccount/account:Account") if r.name.endswith("-nodes-sa")
    )
    assert firewall["sourceRanges"] == [master] and firewall["direction"] == "INGRESS"
    assert firewall["allows"] == [{"protocol": "tcp", "ports": [str(INGRESS_WEBHOOK_PORT)]}]
    assert firewall["targetServiceAccounts"] == [node_sa.outputs["email"]]
    assert firewall["description"] and firewall["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"


@pytest.mark.parametrize("stack", STACKS)
def test_the_foundations_kubernetes_objects_carry_the_ownership_labels(stack: str) -> None:
    labelled = [
        r
        for r in evaluated(stack)
        if r.type.startswith("kubernetes:")
        and not r.type.startswith(("kubernetes:helm", "pulumi:"))
        and "-gcp-" in r.name
    ]
    assert {r.type for r in labelled} >= {
        "kubernetes:core/v1:Namespace",
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:cloud.google.com/v1:BackendConfig",
    }
    environment = stack.split("-")[0]
    for r in labelled:
        labels = _inputs(r)["metadata"]["labels"]
        assert labels["environment"] == environment, r.urn
        assert labels["owner"] and labels["cost-center"], r.urn
    release = next(
        _inputs(r)
        for r in evaluated(stack).of_type("kubernetes:helm.sh/v3:Release")
        if r.name.endswith("-ingress-nginx")
    )
    assert release["values"]["commonLabels"]["environment"] == environment


@pytest.mark.parametrize("stack", STACKS)
def test_gke_workload_identity_needs_only_the_service_account_annotation(stack: str) -> None:
    resources = evaluated(stack)
    mlflow = next(
        _inputs(r)
        for r in resources.of_type("kubernetes:apps/v1:Deployment")
        if _inputs(r)["metadata"]["name"] == "mlflow"
    )
    assert mlflow["spec"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/name": "mlflow"}
    operator = next(
        _inputs(r) for r in resources.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-operator")
    )
    assert operator["values"]["configKubernetes"]["inherited_labels"] == []
    assert (
        "azure.workload.identity/use" not in _one(stack, "kubernetes:acid.zalan.do/v1:postgresql")["metadata"]["labels"]
    )
