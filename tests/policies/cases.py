"""Named passing and failing fixtures for every rule, shaped as the engine sends them (type token + camelCase
inputs). For each rule: the resources it is run over, and exactly which of them must fail.

Resource names say which outcome they stand for: `ok-*` must pass, `bad-*` must fail. For stack rules the whole list
is one stack; an expected "" means a violation of the stack as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TAGS = {"owner": "platform", "environment": "prod", "cost-center": "cc-1"}


@dataclass(frozen=True)
class R:
    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def urn(self) -> str:
        return f"urn:pulumi:prod-fixture::maestro::{self.type}::{self.name}"


@dataclass(frozen=True)
class Case:
    resources: list[R]
    failing: set[str]
    """Names of the resources that must fail ("" = the stack as a whole)."""
    env: str = "prod"


BUCKET = "aws:s3/bucketV2:BucketV2"
BUCKET7 = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
BPOLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
GCS = "gcp:storage/bucket:Bucket"
GCS_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
SA = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
BLOBSVC = "azure-native:storage:BlobServiceProperties"
DIAG = "azure-native:insights:DiagnosticSetting"

FULL_PAB = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
KMS_SSE = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "key-1"}}]}
TLS_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*",'
    '"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}'
)

RDS = "aws:rds/instance:Instance"
RDS_PG = "aws:rds/parameterGroup:ParameterGroup"
EC = "aws:elasticache/replicationGroup:ReplicationGroup"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
MEMSTORE = "gcp:redis/instance:Instance"
AZPG = "azure-native:dbforpostgresql:Server"
AZREDIS = "azure-native:redis:Redis"
ZPG = "kubernetes:acid.zalan.do/v1:postgresql"

SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
FW = "gcp:compute/firewall:Firewall"
NSG = "azure-native:network:NetworkSecurityGroup"
AZRULE = "azure-native:network:SecurityRule"
VPC = "aws:ec2/vpc:Vpc"
FLOWLOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
VNET = "azure-native:network:VirtualNetwork"
AZFLOW = "azure-native:network:FlowLog"

LISTENER = "aws:lb/listener:Listener"
LB = "aws:lb/loadBalancer:LoadBalancer"
ACL = "aws:wafv2/webAcl:WebAcl"
ACL_ASSOC = "aws:wafv2/webAclAssociation:WebAclAssociation"
ACL_LOG = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
SSLPOL = "gcp:compute/sSLPolicy:SSLPolicy"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
BACKEND = "gcp:compute/backendService:BackendService"
URLMAP = "gcp:compute/uRLMap:URLMap"
APPGW = "azure-native:network:ApplicationGateway"
AZWAF = "azure-native:network:WebApplicationFirewallPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RELEASE = "kubernetes:helm.sh/v3:Release"
BACKEND_CONFIG = "kubernetes:cloud.google.com/v1:BackendConfig"

DEPLOY = "kubernetes:apps/v1:Deployment"
STS = "kubernetes:apps/v1:StatefulSet"
CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NS = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CM = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"

KMS = "aws:kms/key:Key"
CRYPTOKEY = "gcp:kms/cryptoKey:CryptoKey"
AZKEY = "azure-native:keyvault:Key"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
SA_KEY = "gcp:serviceaccount/key:Key"
EKS = "aws:eks/cluster:Cluster"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"

SECURE_CTX = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
GOOD_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}


def container(**overrides: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": "app",
        "image": "ghcr.io/maestro/api:1.4.2",
        "securityContext": dict(SECURE_CTX),
        "resources": GOOD_RESOURCES,
        "readinessProbe": PROBE,
        "livenessProbe": PROBE,
    }
    c.update(overrides)
    return {k: v for k, v in c.items() if v is not None}


def deployment(
    name: str,
    *,
    pod: dict[str, Any] | None = None,
    replicas: int = 1,
    ns: str = "maestro",
    labels: dict[str, str] | None = None,
    meta_labels: dict[str, str] | None = None,
    **container_overrides: Any,
) -> R:
    spec = {"containers": [container(**container_overrides)], **(pod or {})}
    pod_labels = labels or {"app": name}
    return R(
        DEPLOY,
        name,
        {
            "metadata": {"name": name, "namespace": ns, "labels": meta_labels if meta_labels is not None else TAGS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": pod_labels},
                "template": {"metadata": {"labels": pod_labels}, "spec": spec},
            },
        },
    )


def ingress(name: str, annotations: dict[str, str], tls: bool = True) -> R:
    spec: dict[str, Any] = {"rules": [{"host": "api.example.com"}]}
    if tls:
        spec["tls"] = [{"hosts": ["api.example.com"], "secretName": "api-tls"}]
    return R(
        INGRESS, name, {"metadata": {"namespace": "maestro", "annotations": annotations, "labels": TAGS}, "spec": spec}
    )


MODSEC = {
    "nginx.ingress.kubernetes.io/enable-modsecurity": "true",
    "nginx.ingress.kubernetes.io/enable-owasp-core-rules": "true",
    "nginx.ingress.kubernetes.io/modsecurity-snippet": "SecRuleEngine On",
}


def aws_acl(name: str, groups: list[str], mode: str = "none") -> R:
    rules = [
        {
            "name": g,
            "priority": i,
            "overrideAction": {mode: {}},
            "statement": {"managedRuleGroupStatement": {"name": g, "vendorName": "AWS"}},
            "visibilityConfig": {"cloudwatchMetricsEnabled": True, "metricName": g, "sampledRequestsEnabled": True},
        }
        for i, g in enumerate(groups)
    ]
    return R(ACL, name, {"scope": "REGIONAL", "defaultAction": {"allow": {}}, "rules": rules, "tags": TAGS})


def nginx_release(name: str, snippet: str) -> R:
    config = {"enable-modsecurity": "true", "enable-owasp-modsecurity-crs": "true", "modsecurity-snippet": snippet}
    return R(
        RELEASE,
        name,
        {"chart": "ingress-nginx", "namespace": "ingress-nginx", "values": {"controller": {"config": config}}},
    )


OWASP = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]


def armor(
    name: str, *, action: str = "deny(403)", preview: bool = False, kinds: tuple[str, ...] = ("sqli", "xss")
) -> R:
    rules = [
        {
            "priority": 1000 + i,
            "action": action,
            "preview": preview,
            "match": {"expr": {"expression": f"evaluatePreconfiguredWaf('{k}-v33-stable')"}},
        }
        for i, k in enumerate(kinds)
    ]
    return R(ARMOR, name, {"rules": rules})


def sg(name: str, port: int, cidr: str, description: str | None = None) -> R:
    """An AWS security group with one TCP ingress rule on one port."""
    rule: dict[str, Any] = {"fromPort": port, "toPort": port, "protocol": "tcp", "cidrBlocks": [cidr]}
    if description is not None:
        rule["description"] = description
    return R(SG, name, {"ingress": [rule]})


def inbound(source: str, ports: str | list[str], access: str = "Allow", **extra: str) -> dict[str, Any]:
    """An Azure inbound security rule (properties of a SecurityRule, or one of an NSG's securityRules)."""
    key = "destinationPortRanges" if isinstance(ports, list) else "destinationPortRange"
    return {"direction": "Inbound", "access": access, "sourceAddressPrefix": source, key: ports, **extra}


def class_ingress(name: str, ingress_class: str) -> R:
    """A bare Ingress of one class in the maestro namespace, for the rules that follow which controller serves it."""
    return R(INGRESS, name, {"metadata": {"namespace": "maestro"}, "spec": {"ingressClassName": ingress_class}})


CASES: dict[str, Case] = {
    # --- storage -------------------------------------------------------------------------------------------------
    "MAESTRO-STO-001": Case(
        [
            R(PAB, "ok-pab", {"bucket": "b", **FULL_PAB}),
            R(PAB, "bad-pab", {"bucket": "b", **FULL_PAB, "restrictPublicBuckets": False}),
            R(BUCKET, "ok-bucket", {"bucket": "b"}),
            R(BUCKET7, "bad-bucket-acl", {"bucket": "b2", "acl": "public-read"}),
            R(GCS, "ok-gcs", {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True}),
            R(GCS, "bad-gcs", {"publicAccessPrevention": "inherited", "uniformBucketLevelAccess": True}),
            R(
                GCS_MEMBER,
                "ok-gcs-member",
                {"bucket": "b", "role": "roles/storage.objectViewer", "member": "serviceAccount:x@y"},
            ),
            R(
                GCS_MEMBER,
                "bad-gcs-member",
                {"bucket": "b", "role": "roles/storage.objectViewer", "member": "allUsers"},
            ),
            R(SA, "ok-sa", {"allowBlobPublicAccess": False}),
            R(SA, "bad-sa", {}),
            R(CONTAINER, "ok-container", {"publicAccess": "None"}),
            R(CONTAINER, "bad-container", {"publicAccess": "Blob"}),
        ],
        {"bad-pab", "bad-bucket-acl", "bad-gcs", "bad-gcs-member", "bad-sa", "bad-container"},
    ),
    "MAESTRO-STO-002": Case(
        [
            R(BUCKET, "ok-b", {"bucket": "ok-b-123"}),
            R(PAB, "ok-b-public-access", {"bucket": "ok-b-123", **FULL_PAB}),
            R(BUCKET, "bad-b", {"bucket": "bad-b-123"}),
        ],
        {"bad-b"},
    ),
    "MAESTRO-STO-003": Case(
        [
            R(BUCKET, "ok-b", {"bucket": "ok-b-1"}),
            R(SSE, "ok-b-encryption", {"bucket": "ok-b-1", **KMS_SSE}),
            R(BUCKET, "bad-b-sse-s3", {"bucket": "bad-b-sse-s3-1"}),
            R(
                SSE,
                "x-sse",
                {
                    "bucket": "bad-b-sse-s3-1",
                    "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
                },
            ),
            R(BUCKET, "bad-b-none", {"bucket": "bad-b-none-1"}),
            # An access-log target may (must) use SSE-S3; its id is what BucketLogging names.
            R(BUCKET, "ok-logs", {"bucketPrefix": "logs-", "id": "logs-123"}),
            R(
                SSE,
                "y-sse",
                {"bucket": "logs-123", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
            ),
            R(LOGGING, "z-logging", {"bucket": "ok-b-1", "targetBucket": "logs-123"}),
            R(GCS, "ok-gcs", {"encryption": {"defaultKmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}}),
            R(GCS, "bad-gcs", {}),
            R(SA, "ok-sa", {"encryption": {"keySource": "Microsoft.Keyvault", "keyVaultProperties": {"keyName": "k"}}}),
            R(SA, "bad-sa", {"encryption": {"keySource": "Microsoft.Storage"}}),
        ],
        {"bad-b-sse-s3", "bad-b-none", "bad-gcs", "bad-sa"},
    ),
    "MAESTRO-STO-004": Case(
        [
            R(BUCKET, "ok-b", {"bucketPrefix": "ok-", "id": "ok-b-1"}),
            R(OWNERSHIP, "x-ownership", {"bucket": "ok-b-1", "rule": {"objectOwnership": "BucketOwnerEnforced"}}),
            R(BUCKET, "bad-b", {"bucket": "bad-b-1"}),
            R(OWNERSHIP, "bad-b-ownership", {"bucket": "bad-b-1", "rule": {"objectOwnership": "ObjectWriter"}}),
            R(BUCKET, "bad-b-none", {"bucket": "bad-b-none-1"}),
        ],
        {"bad-b", "bad-b-none"},
    ),
    "MAESTRO-STO-005": Case(
        [
            R(BUCKET, "ok-b", {"bucket": "ok-b-1"}),
            R(VERSIONING, "ok-b-versioning", {"bucket": "ok-b-1", "versioningConfiguration": {"status": "Enabled"}}),
            R(BUCKET, "bad-b", {"bucket": "bad-b-1"}),
            R(
                VERSIONING,
                "bad-b-versioning",
                {"bucket": "bad-b-1", "versioningConfiguration": {"status": "Suspended"}},
            ),
            R(GCS, "ok-gcs", {"versioning": {"enabled": True}}),
            R(GCS, "ok-gcs-locked", {"versioning": {"enabled": False}, "retentionPolicy": {"retentionPeriod": 86400}}),
            R(GCS, "bad-gcs", {}),
            R(SA, "ok-sa", {"accountName": "oksa"}),
            R(BLOBSVC, "ok-sa-blobs", {"accountName": "oksa", "isVersioningEnabled": True}),
            R(SA, "bad-sa", {"accountName": "badsa"}),
            R(BLOBSVC, "bad-blobs", {"accountName": "other", "isVersioningEnabled": False}),
        ],
        {"bad-b", "bad-gcs", "bad-sa", "bad-blobs"},
    ),
    "MAESTRO-STO-006": Case(
        [
            R(BUCKET, "ok-b", {"bucket": "ok-b-1"}),
            R(LOGGING, "ok-b-logging", {"bucket": "ok-b-1", "targetBucket": "logs-1", "targetPrefix": "ok-b/"}),
            R(BUCKET, "ok-log-target", {"bucketPrefix": "logs-", "id": "logs-1"}),
            R(BUCKET, "bad-b", {"bucket": "bad-b-1"}),
            R(GCS, "ok-gcs", {"logging": {"logBucket": "logs"}}),
            R(GCS, "bad-gcs", {}),
            R(SA, "ok-sa", {}),
            R(DIAG, "ok-sa-diagnostics", {"resourceUri": "/subscriptions/x/.../oksa"}),
            R(SA, "bad-sa", {}),
        ],
        {"bad-b", "bad-gcs", "bad-sa"},
    ),
    "MAESTRO-STO-006/gcs-audit": Case(
        [
            R(GCS, "ok-gcs-audited", {}),
            R(
                "gcp:projects/iAMAuditConfig:IAMAuditConfig",
                "storage-audit",
                {
                    "service": "storage.googleapis.com",
                    "auditLogConfigs": [{"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}],
                },
            ),
        ],
        set(),
    ),
    "MAESTRO-STO-006/gcs-read-only-audit": Case(
        [
            R(GCS, "bad-gcs-half-audited", {}),
            R(
                "gcp:projects/iAMAuditConfig:IAMAuditConfig",
                "storage-audit",
                {"service": "allServices", "auditLogConfigs": [{"logType": "ADMIN_READ"}, {"logType": "DATA_READ"}]},
            ),
        ],
        {"bad-gcs-half-audited"},
    ),
    "MAESTRO-STO-007": Case(
        [
            R(BUCKET, "ok-b", {"bucket": "ok-b-1"}),
            R(BPOLICY, "ok-b-policy", {"bucket": "ok-b-1", "policy": TLS_POLICY}),
            R(BUCKET, "bad-b", {"bucket": "bad-b-1"}),
            R(BPOLICY, "bad-b-policy", {"bucket": "bad-b-1", "policy": '{"Statement":[]}'}),
            R(SA, "ok-sa", {"enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2"}),
            R(SA, "bad-sa-http", {"enableHttpsTrafficOnly": False, "minimumTlsVersion": "TLS1_2"}),
            R(SA, "bad-sa-tls", {"minimumTlsVersion": "TLS1_0"}),
        ],
        {"bad-b", "bad-sa-http", "bad-sa-tls"},
    ),
    "MAESTRO-STO-008": Case(
        [
            R(BUCKET, "ok-backups", {"bucket": "ok-backups-1", "objectLockEnabled": True}),
            R(
                LOCK,
                "ok-backups-object-lock",
                {"bucket": "ok-backups-1", "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 35}}},
            ),
            R(BUCKET, "bad-backups", {"bucket": "bad-backups-1"}),
            R(BUCKET, "ok-artifacts", {"bucket": "artifacts-1"}),
            R(GCS, "ok-gcs-backup", {"retentionPolicy": {"retentionPeriod": 35 * 86400}}),
            R(GCS, "bad-gcs-backup", {"softDeletePolicy": {"retentionDurationSeconds": 86400}}),
            R(BLOBSVC, "ok-blobs", {"deleteRetentionPolicy": {"enabled": True, "days": 14}}),
            R(BLOBSVC, "bad-blobs", {"deleteRetentionPolicy": {"enabled": True, "days": 1}}),
        ],
        {"bad-backups", "bad-gcs-backup", "bad-blobs"},
    ),
    # --- databases -----------------------------------------------------------------------------------------------
    "MAESTRO-DB-001": Case(
        [
            R(RDS, "ok-rds", {"publiclyAccessible": False}),
            R(RDS, "bad-rds", {"publiclyAccessible": True}),
            R(SQL, "ok-sql", {"settings": {"ipConfiguration": {"ipv4Enabled": False, "privateNetwork": "vpc"}}}),
            R(
                SQL,
                "bad-sql",
                {
                    "settings": {
                        "ipConfiguration": {"ipv4Enabled": True, "authorizedNetworks": [{"value": "0.0.0.0/0"}]}
                    }
                },
            ),
            R(AZPG, "ok-azpg", {"network": {"publicNetworkAccess": "Disabled"}}),
            R(AZPG, "bad-azpg", {"network": {"publicNetworkAccess": "Enabled"}}),
            R(AZREDIS, "ok-azredis", {"publicNetworkAccess": "Disabled"}),
            R(AZREDIS, "bad-azredis", {}),
            R(MEMSTORE, "ok-memstore", {"connectMode": "PRIVATE_SERVICE_ACCESS"}),
        ],
        {"bad-rds", "bad-sql", "bad-azpg", "bad-azredis"},
    ),
    "MAESTRO-DB-002": Case(
        [
            R(RDS, "ok-rds", {"storageEncrypted": True, "kmsKeyId": "arn:aws:kms:k"}),
            R(RDS, "bad-rds", {"storageEncrypted": True}),
            R(EC, "ok-ec", {"atRestEncryptionEnabled": True, "kmsKeyId": "arn:aws:kms:k"}),
            R(EC, "bad-ec", {"atRestEncryptionEnabled": False}),
            R(SQL, "ok-sql", {"encryptionKeyName": "projects/p/.../k"}),
            R(SQL, "bad-sql", {}),
            R(MEMSTORE, "ok-memstore", {"customerManagedKey": "projects/p/.../k"}),
            R(MEMSTORE, "bad-memstore", {}),
            R(AZPG, "ok-azpg", {"dataEncryption": {"type": "AzureKeyVault"}}),
            R(AZPG, "bad-azpg", {"dataEncryption": {"type": "SystemManaged"}}),
        ],
        {"bad-rds", "bad-ec", "bad-sql", "bad-memstore", "bad-azpg"},
    ),
    "MAESTRO-DB-003": Case(
        [
            R(EC, "ok-ec", {"transitEncryptionEnabled": True}),
            R(EC, "bad-ec", {}),
            R(MEMSTORE, "ok-memstore", {"transitEncryptionMode": "SERVER_AUTHENTICATION"}),
            R(MEMSTORE, "bad-memstore", {"transitEncryptionMode": "DISABLED"}),
            R(AZREDIS, "ok-azredis", {"enableNonSslPort": False, "minimumTlsVersion": "1.2"}),
            R(AZREDIS, "bad-azredis", {"enableNonSslPort": True, "minimumTlsVersion": "1.2"}),
            R(SQL, "ok-sql", {"settings": {"ipConfiguration": {"sslMode": "ENCRYPTED_ONLY"}}}),
            R(SQL, "bad-sql", {"settings": {"ipConfiguration": {"sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}}}),
            R(RDS_PG, "ok-params", {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "1"}]}),
            R(
                RDS_PG,
                "bad-params",
                {"family": "postgres16", "parameters": [{"name": "log_statement", "value": "ddl"}]},
            ),
            R(RDS_PG, "ok-mysql-params", {"family": "mysql8.0", "parameters": []}),
        ],
        {"bad-ec", "bad-memstore", "bad-azredis", "bad-sql", "bad-params"},
    ),
    "MAESTRO-DB-004": Case(
        [
            R(EC, "ok-ec", {"authToken": "x" * 32}),
            R(EC, "ok-ec-rbac", {"userGroupIds": ["maestro"]}),
            R(EC, "bad-ec", {}),
            R(MEMSTORE, "ok-memstore", {"authEnabled": True}),
            R(MEMSTORE, "bad-memstore", {"authEnabled": False}),
            R(AZREDIS, "ok-azredis", {"redisConfiguration": {"maxmemoryPolicy": "allkeys-lru"}}),
            R(AZREDIS, "bad-azredis", {"redisConfiguration": {"authnotrequired": "true"}}),
            deployment("ok-redis", image="redis:7.4.1", args=["--requirepass", "$(REDIS_PASSWORD)"]),
            deployment(
                "ok-redis-env",
                image="docker.io/bitnami/redis:7.4.1",
                env=[{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}}],
            ),
            deployment("bad-redis", image="redis:7.4.1", args=["--appendonly", "yes"]),
            deployment("ok-not-redis", image="ghcr.io/maestro/api:1.0.0"),
            deployment("ok-exporter", image="oliver006/redis_exporter:v1.62.0"),
        ],
        {"bad-ec", "bad-memstore", "bad-azredis", "bad-redis"},
    ),
    "MAESTRO-DB-005": Case(
        [
            R(RDS, "ok-rds", {"backupRetentionPeriod": 35}),
            R(RDS, "bad-rds", {"backupRetentionPeriod": 7}),
            R(
                SQL,
                "ok-sql",
                {
                    "settings": {
                        "backupConfiguration": {
                            "enabled": True,
                            "pointInTimeRecoveryEnabled": True,
                            "backupRetentionSettings": {"retainedBackups": 35},
                        }
                    }
                },
            ),
            R(SQL, "bad-sql", {"settings": {"backupConfiguration": {"enabled": True}}}),
            R(AZPG, "ok-azpg", {"backup": {"backupRetentionDays": 35}}),
            R(AZPG, "bad-azpg", {"backup": {"backupRetentionDays": 7}}),
        ],
        {"bad-rds", "bad-sql", "bad-azpg"},
    ),
    "MAESTRO-DB-006": Case(
        [
            R(RDS, "ok-rds", {"multiAz": True}),
            R(RDS, "bad-rds", {"multiAz": False}),
            R(SQL, "ok-sql", {"settings": {"availabilityType": "REGIONAL"}}),
            R(SQL, "bad-sql", {"settings": {"availabilityType": "ZONAL"}}),
            R(AZPG, "ok-azpg", {"highAvailability": {"mode": "ZoneRedundant"}}),
            R(AZPG, "bad-azpg", {"highAvailability": {"mode": "Disabled"}}),
            R(EC, "ok-ec", {"automaticFailoverEnabled": True, "multiAzEnabled": True}),
            R(EC, "bad-ec", {"automaticFailoverEnabled": True}),
            R(MEMSTORE, "ok-memstore", {"tier": "STANDARD_HA"}),
            R(MEMSTORE, "bad-memstore", {"tier": "BASIC"}),
            R(AZREDIS, "ok-azredis", {"sku": {"name": "Premium", "family": "P", "capacity": 1}}),
            R(AZREDIS, "bad-azredis", {"sku": {"name": "Basic", "family": "C", "capacity": 0}}),
            R(ZPG, "ok-zpg", {"spec": {"numberOfInstances": 3}}),
            R(ZPG, "bad-zpg", {"spec": {"numberOfInstances": 1}}),
        ],
        {"bad-rds", "bad-sql", "bad-azpg", "bad-ec", "bad-memstore", "bad-azredis", "bad-zpg"},
    ),
    "MAESTRO-DB-007": Case(
        [
            R(RDS, "ok-rds", {"deletionProtection": True}),
            R(RDS, "bad-rds", {}),
            R(SQL, "ok-sql", {"settings": {"deletionProtectionEnabled": True}}),
            R(SQL, "bad-sql", {"deletionProtection": False, "settings": {"deletionProtectionEnabled": True}}),
        ],
        {"bad-rds", "bad-sql"},
    ),
    "MAESTRO-DB-008": Case(
        [
            R(ZPG, "ok-zpg", {"spec": {"patroni": {"synchronous_mode": True}}}),
            R(ZPG, "bad-zpg", {"spec": {"patroni": {}}}),
        ],
        {"bad-zpg"},
    ),
    # --- network -------------------------------------------------------------------------------------------------
    "MAESTRO-NET-001": Case(
        [
            sg("ok-sg", 443, "0.0.0.0/0", "HTTPS"),
            sg("bad-sg", 5432, "0.0.0.0/0", "pg"),
            R(
                SG_RULE,
                "bad-sg-rule-all",
                {
                    "type": "ingress",
                    "protocol": "-1",
                    "fromPort": 0,
                    "toPort": 0,
                    "cidrBlocks": ["0.0.0.0/0"],
                    "description": "all",
                },
            ),
            R(
                SG_RULE,
                "ok-sg-rule-vpc",
                {
                    "type": "ingress",
                    "protocol": "tcp",
                    "fromPort": 6379,
                    "toPort": 6379,
                    "cidrBlocks": ["10.0.0.0/16"],
                    "description": "redis from vpc",
                },
            ),
            R(
                SG_IN,
                "bad-ingress-rule",
                {"ipProtocol": "tcp", "fromPort": 6379, "toPort": 6380, "cidrIpv6": "::/0", "description": "redis"},
            ),
            R(
                FW,
                "ok-fw",
                {
                    "direction": "INGRESS",
                    "sourceRanges": ["10.0.0.0/8"],
                    "allows": [{"protocol": "tcp", "ports": ["5432"]}],
                },
            ),
            R(FW, "bad-fw", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["5000-6000"]}]}),
            R(NSG, "bad-nsg", {"securityRules": [inbound("*", "5432", description="pg")]}),
            R(AZRULE, "ok-azrule-deny", inbound("*", "*", access="Deny")),
        ],
        {"bad-sg", "bad-sg-rule-all", "bad-ingress-rule", "bad-fw", "bad-nsg"},
    ),
    "MAESTRO-NET-002": Case(
        [
            sg("bad-sg-ssh", 22, "0.0.0.0/0"),
            sg("ok-sg-ssh-office", 22, "203.0.113.0/24"),
            R(FW, "bad-fw-rdp", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["3389"]}]}),
            R(AZRULE, "bad-azrule-api", inbound("Internet", ["443", "6443"])),
            R(AZRULE, "ok-azrule-https", inbound("Internet", "443")),
        ],
        {"bad-sg-ssh", "bad-fw-rdp", "bad-azrule-api"},
    ),
    "MAESTRO-NET-003": Case(
        [
            sg("ok-sg", 443, "10.0.0.0/8", "https"),
            sg("bad-sg", 443, "10.0.0.0/8"),
            R(
                SG_IN,
                "bad-ingress-rule",
                {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "10.0.0.0/8"},
            ),
            R(
                FW,
                "ok-fw",
                {
                    "description": "internal pg",
                    "sourceRanges": ["10.0.0.0/8"],
                    "allows": [{"protocol": "tcp", "ports": ["5432"]}],
                },
            ),
            R(AZRULE, "bad-azrule", inbound("10.0.0.0/8", "443")),
        ],
        {"bad-sg", "bad-ingress-rule", "bad-azrule"},
    ),
    "MAESTRO-NET-004": Case(
        [
            R(VPC, "ok-vpc", {"cidrBlock": "10.0.0.0/16"}),
            R(FLOWLOG, "ok-vpc-flow-logs", {"vpcId": "vpc-1", "trafficType": "ALL"}),
            R(VPC, "bad-vpc", {"cidrBlock": "10.1.0.0/16"}),
            R(SUBNET, "ok-subnet", {"logConfig": {"aggregationInterval": "INTERVAL_5_SEC"}}),
            R(SUBNET, "bad-subnet", {}),
            R(VNET, "ok-vnet", {}),
            R(AZFLOW, "ok-vnet-flow-log", {"targetResourceId": "x"}),
            R(VNET, "bad-vnet", {}),
        ],
        {"bad-vpc", "bad-subnet", "bad-vnet"},
    ),
    "MAESTRO-NET-005": Case(
        [
            R(FW, "ok-fw", {"logConfig": {"metadata": "INCLUDE_ALL_METADATA"}}),
            R(FW, "bad-fw", {}),
        ],
        {"bad-fw"},
    ),
    # --- edge ----------------------------------------------------------------------------------------------------
    "MAESTRO-EDGE-001": Case(
        [
            R(LISTENER, "ok-https", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}),
            R(LISTENER, "bad-https", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}),
            R(LISTENER, "bad-https-default", {"protocol": "HTTPS"}),
            R(LISTENER, "ok-http", {"protocol": "HTTP"}),
            R(SSLPOL, "ok-sslpol", {"minTlsVersion": "TLS_1_2", "profile": "MODERN"}),
            R(SSLPOL, "bad-sslpol", {"minTlsVersion": "TLS_1_0"}),
            R(APPGW, "ok-appgw", {"sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"}}),
            R(APPGW, "bad-appgw", {"sslPolicy": {"minProtocolVersion": "TLSv1_0"}}),
        ],
        {"bad-https", "bad-https-default", "bad-sslpol", "bad-appgw"},
    ),
    "MAESTRO-EDGE-002": Case(
        [
            R(
                LISTENER,
                "ok-http",
                {
                    "protocol": "HTTP",
                    "defaultActions": [
                        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
                    ],
                },
            ),
            R(
                LISTENER,
                "bad-http",
                {"protocol": "HTTP", "defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]},
            ),
            R(URLMAP, "ok-redirect-map", {"defaultUrlRedirect": {"httpsRedirect": True, "stripQuery": False}}),
            R(URLMAP, "bad-redirect-map", {"defaultUrlRedirect": {"httpsRedirect": False, "stripQuery": False}}),
            ingress("ok-ingress", MODSEC),
            ingress("bad-ingress-no-tls", MODSEC, tls=False),
            ingress("bad-ingress-no-redirect", {**MODSEC, "nginx.ingress.kubernetes.io/ssl-redirect": "false"}),
            ingress(
                "ok-ingress-alb",
                {
                    "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:c",
                    "alb.ingress.kubernetes.io/ssl-redirect": "443",
                },
                tls=False,
            ),
            ingress(
                "bad-ingress-alb-no-redirect", {"alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:c"}, tls=False
            ),
            ingress(
                "ok-ingress-gke",
                {"networking.gke.io/managed-certificates": "api", "networking.gke.io/v1beta1.FrontendConfig": "https"},
                tls=False,
            ),
        ],
        {
            "bad-http",
            "bad-redirect-map",
            "bad-ingress-no-tls",
            "bad-ingress-no-redirect",
            "bad-ingress-alb-no-redirect",
        },
    ),
    # GKE: the nginx-class Ingress sits behind a ClusterIP controller reached only through the GCE load balancer.
    "MAESTRO-EDGE-002/internal-hop": Case(
        [
            R(
                RELEASE,
                "ingress-nginx",
                {
                    "chart": "ingress-nginx",
                    "namespace": "ingress-nginx",
                    "values": {
                        "controller": {"ingressClassResource": {"name": "nginx"}, "service": {"type": "ClusterIP"}}
                    },
                },
            ),
            class_ingress("ok-internal-api", "nginx"),
            class_ingress("bad-public-api", "public"),
        ],
        {"bad-public-api"},
    ),
    "MAESTRO-EDGE-003": Case(
        [
            ingress("ok-ingress-modsec", MODSEC),
            ingress("ok-ingress-alb", {"alb.ingress.kubernetes.io/wafv2-acl-arn": "arn:aws:wafv2:acl"}),
            ingress("bad-ingress", {"kubernetes.io/ingress.class": "nginx"}),
            R(LB, "ok-alb", {"internal": False, "loadBalancerType": "application"}),
            R(ACL_ASSOC, "ok-alb-waf", {"resourceArn": "arn:lb", "webAclArn": "arn:acl"}),
            R(LB, "bad-alb", {"internal": False}),
            R(LB, "ok-internal-alb", {"internal": True}),
            R(APPGW, "ok-appgw", {"firewallPolicy": {"id": "/subscriptions/x/waf"}}),
            R(APPGW, "bad-appgw", {}),
            R(BACKEND, "ok-backend", {"loadBalancingScheme": "EXTERNAL_MANAGED", "securityPolicy": "armor"}),
            R(BACKEND, "bad-backend", {"loadBalancingScheme": "EXTERNAL_MANAGED"}),
        ],
        {"bad-ingress", "bad-alb", "bad-appgw", "bad-backend"},
    ),
    # The platform's own shapes: a GCE Ingress in front of an ingress-nginx Service behind Cloud Armor (GKE), an
    # nginx-class Ingress served by that controller, an AGIC Ingress, and an nginx class nobody protects.
    "MAESTRO-EDGE-003/gke-agic": Case(
        [
            R(
                BACKEND_CONFIG,
                "armor-config",
                {
                    "metadata": {"name": "waf", "namespace": "ingress-nginx"},
                    "spec": {"securityPolicy": {"name": "maestro-prod-api"}},
                },
            ),
            R(
                RELEASE,
                "ingress-nginx",
                {
                    "chart": "ingress-nginx",
                    "namespace": "ingress-nginx",
                    "values": {
                        "controller": {
                            "ingressClassResource": {"name": "nginx"},
                            "service": {"annotations": {"cloud.google.com/backend-config": '{"default": "waf"}'}},
                        }
                    },
                },
            ),
            R(
                INGRESS,
                "ok-gce-ingress",
                {
                    "metadata": {
                        "namespace": "ingress-nginx",
                        "annotations": {"kubernetes.io/ingress.global-static-ip-name": "ip"},
                    },
                    "spec": {"defaultBackend": {}},
                },
            ),
            class_ingress("ok-api-ingress", "nginx"),
            class_ingress("bad-other-class", "traefik"),
            R(APPGW, "gateway", {"firewallPolicy": {"id": "/subscriptions/x/waf"}}),
            class_ingress("ok-agic-ingress", "azure-application-gateway"),
        ],
        {"bad-other-class"},
    ),
    "MAESTRO-EDGE-004": Case(
        [
            aws_acl("ok-acl", OWASP),
            aws_acl("bad-acl-count", OWASP, mode="count"),
            aws_acl("bad-acl-missing", ["AWSManagedRulesCommonRuleSet"]),
            armor("ok-armor"),
            armor("bad-armor-preview", preview=True),
            armor("bad-armor-missing", kinds=("sqli",)),
            R(
                AZWAF,
                "ok-azwaf",
                {
                    "policySettings": {"state": "Enabled", "mode": "Prevention"},
                    "managedRules": {"managedRuleSets": [{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}]},
                },
            ),
            R(
                AZWAF,
                "bad-azwaf",
                {
                    "policySettings": {"state": "Enabled", "mode": "Detection"},
                    "managedRules": {"managedRuleSets": [{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}]},
                },
            ),
            ingress("ok-ingress", MODSEC),
            ingress(
                "bad-ingress-detect",
                {**MODSEC, "nginx.ingress.kubernetes.io/modsecurity-snippet": "SecRuleEngine DetectionOnly"},
            ),
            ingress(
                "bad-ingress-no-crs",
                {
                    "nginx.ingress.kubernetes.io/enable-modsecurity": "true",
                    "nginx.ingress.kubernetes.io/modsecurity-snippet": "SecRuleEngine On",
                },
            ),
            ingress("ok-ingress-alb", {"alb.ingress.kubernetes.io/wafv2-acl-arn": "arn"}),
            nginx_release("ok-release", "SecRuleEngine On\nSecRequestBodyAccess On"),
            nginx_release("bad-release-detect", "SecRuleEngine DetectionOnly"),
            # No snippet of its own: the controller config (ok-release) blocks.
            ingress("ok-ingress-global", {k: v for k, v in MODSEC.items() if not k.endswith("snippet")}),
        ],
        {
            "bad-acl-count",
            "bad-acl-missing",
            "bad-armor-preview",
            "bad-armor-missing",
            "bad-azwaf",
            "bad-ingress-detect",
            "bad-ingress-no-crs",
            "bad-release-detect",
        },
    ),
    "MAESTRO-EDGE-005": Case(
        [
            aws_acl("ok-acl", OWASP),
            R(ACL_LOG, "ok-acl-logging", {"resourceArn": "arn:acl", "logDestinationConfigs": ["arn:aws:logs:x"]}),
            aws_acl("bad-acl", OWASP),
            R(BACKEND, "ok-backend", {"securityPolicy": "armor", "logConfig": {"enable": True}}),
            R(BACKEND, "bad-backend", {"securityPolicy": "armor"}),
            R(APPGW, "ok-appgw", {}),
            R(DIAG, "ok-appgw-diagnostics", {}),
            R(APPGW, "bad-appgw", {}),
            R(
                BACKEND_CONFIG,
                "ok-backend-config",
                {"spec": {"securityPolicy": {"name": "a"}, "logging": {"enable": True}}},
            ),
            R(BACKEND_CONFIG, "bad-backend-config", {"spec": {"securityPolicy": {"name": "a"}}}),
        ],
        {"bad-acl", "bad-backend", "bad-appgw", "bad-backend-config"},
    ),
    "MAESTRO-EDGE-006": Case(
        [
            R(LB, "ok-alb", {"dropInvalidHeaderFields": True}),
            R(LB, "bad-alb", {}),
            R(LB, "ok-nlb", {"loadBalancerType": "network"}),
        ],
        {"bad-alb"},
    ),
    # --- kubernetes ----------------------------------------------------------------------------------------------
    "MAESTRO-K8S-001": Case(
        [
            deployment("ok-app"),
            deployment(
                "ok-pod-level",
                pod={"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}},
                securityContext={k: v for k, v in SECURE_CTX.items() if k not in ("runAsNonRoot", "runAsUser")},
            ),
            deployment("bad-root", securityContext={**SECURE_CTX, "runAsNonRoot": None}),
            deployment("bad-uid0", securityContext={**SECURE_CTX, "runAsUser": 0}),
        ],
        {"bad-root", "bad-uid0"},
    ),
    "MAESTRO-K8S-002": Case(
        [
            deployment("ok-app"),
            deployment("bad-escalation", securityContext={**SECURE_CTX, "allowPrivilegeEscalation": True}),
            deployment("bad-privileged", securityContext={**SECURE_CTX, "privileged": True}),
        ],
        {"bad-escalation", "bad-privileged"},
    ),
    "MAESTRO-K8S-003": Case(
        [
            deployment("ok-app"),
            deployment(
                "ok-bind",
                securityContext={**SECURE_CTX, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
            ),
            deployment("bad-nodrop", securityContext={**SECURE_CTX, "capabilities": {"drop": ["NET_RAW"]}}),
            deployment(
                "bad-sysadmin", securityContext={**SECURE_CTX, "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}
            ),
        ],
        {"bad-nodrop", "bad-sysadmin"},
    ),
    "MAESTRO-K8S-004": Case(
        [
            deployment("ok-app"),
            deployment(
                "ok-pod-level",
                pod={"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
                securityContext={k: v for k, v in SECURE_CTX.items() if k != "seccompProfile"},
            ),
            deployment("bad-unconfined", securityContext={**SECURE_CTX, "seccompProfile": {"type": "Unconfined"}}),
        ],
        {"bad-unconfined"},
    ),
    "MAESTRO-K8S-005": Case(
        [
            deployment("ok-app"),
            deployment("bad-hostnet", pod={"hostNetwork": True}),
            deployment("bad-hostpid", pod={"hostPID": True}),
            deployment("bad-hostport", ports=[{"containerPort": 8080, "hostPort": 8080}]),
        ],
        {"bad-hostnet", "bad-hostpid", "bad-hostport"},
    ),
    "MAESTRO-K8S-006": Case(
        [
            deployment("ok-app", pod={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}]}),
            deployment(
                "bad-hostpath", pod={"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]}
            ),
        ],
        {"bad-hostpath"},
    ),
    "MAESTRO-K8S-007": Case(
        [
            deployment("ok-app"),
            deployment("bad-nolimits", resources={"requests": {"cpu": "100m", "memory": "128Mi"}}),
            deployment("bad-noresources", resources=None),
        ],
        {"bad-nolimits", "bad-noresources"},
    ),
    "MAESTRO-K8S-008": Case(
        [
            deployment("ok-app"),
            deployment("bad-noready", readinessProbe=None),
            R(
                CRONJOB,
                "ok-cronjob",
                {
                    "spec": {
                        "jobTemplate": {
                            "spec": {
                                "template": {
                                    "spec": {"containers": [container(readinessProbe=None, livenessProbe=None)]}
                                }
                            }
                        }
                    }
                },
            ),
        ],
        {"bad-noready"},
    ),
    "MAESTRO-K8S-009": Case(
        [
            deployment("ok-app"),
            deployment("ok-digest", image="ghcr.io/maestro/api@sha256:" + "a" * 64),
            deployment("ok-registry-port", image="registry.local:5000/maestro/api:1.2.3"),
            deployment("bad-latest", image="ghcr.io/maestro/api:latest"),
            deployment("bad-untagged", image="registry.local:5000/maestro/api"),
            R(
                POD,
                "bad-pod-init",
                {"spec": {"initContainers": [container(image="busybox")], "containers": [container()]}},
            ),
        ],
        {"bad-latest", "bad-untagged", "bad-pod-init"},
    ),
    "MAESTRO-K8S-010": Case(
        [
            deployment("ok-api", replicas=3, labels={"app": "api"}),
            R(
                PDB,
                "ok-api-pdb",
                {
                    "metadata": {"namespace": "maestro"},
                    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}},
                },
            ),
            deployment("bad-mlflow", replicas=2, labels={"app": "mlflow"}),
            R(
                PDB,
                "wrong-namespace-pdb",
                {
                    "metadata": {"namespace": "other"},
                    "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "mlflow"}}},
                },
            ),
            deployment("ok-single", replicas=1, labels={"app": "single"}),
        ],
        {"bad-mlflow"},
    ),
    # --- platform ------------------------------------------------------------------------------------------------
    "MAESTRO-STK-001": Case(
        [
            R(NS, "ok-ns", {"metadata": {"name": "maestro"}}),
            R(
                NETPOL,
                "ok-ns-default-deny",
                {
                    "metadata": {"namespace": "maestro"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                },
            ),
            R(NS, "bad-ns", {"metadata": {"name": "monitoring"}}),
            R(
                NETPOL,
                "not-a-deny",
                {
                    "metadata": {"namespace": "monitoring"},
                    "spec": {"podSelector": {"matchLabels": {"app": "x"}}, "policyTypes": ["Ingress"]},
                },
            ),
            deployment("bad-workload-ns", ns="observability"),
            R(RELEASE, "ok-system-release", {"chart": "metrics-server", "namespace": "kube-system"}),
        ],
        {"bad-ns", "bad-workload-ns"},
    ),
    "MAESTRO-STK-002": Case([R(BUCKET, "artifacts", {"bucket": "maestro-artifacts"})], {""}),
    "MAESTRO-STK-003": Case([R(RELEASE, "ingress", {"chart": "ingress-nginx"})], {""}),
    "MAESTRO-STK-004": Case([ingress("api", {})], {""}),
    # --- identity ------------------------------------------------------------------------------------------------
    "MAESTRO-IAM-001": Case(
        [
            R(KMS, "ok-kms", {"enableKeyRotation": True}),
            R(KMS, "bad-kms", {"enableKeyRotation": False}),
            R(KMS, "ok-kms-asymmetric", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
            R(CRYPTOKEY, "ok-cryptokey", {"rotationPeriod": "7776000s"}),
            R(CRYPTOKEY, "bad-cryptokey", {}),
            R(
                AZKEY,
                "ok-azkey",
                {
                    "properties": {
                        "kty": "RSA-HSM",
                        "rotationPolicy": {
                            "lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}}]
                        },
                    }
                },
            ),
            R(AZKEY, "bad-azkey", {"properties": {"kty": "RSA"}}),
            # rotationPolicy belongs under properties: at the top level the provider ignores it.
            R(AZKEY, "bad-azkey-misplaced", {"rotationPolicy": {"lifetimeActions": [{"action": {"type": "Rotate"}}]}}),
        ],
        {"bad-kms", "bad-cryptokey", "bad-azkey", "bad-azkey-misplaced"},
    ),
    "MAESTRO-IAM-002": Case(
        [
            R(
                IAM_POLICY,
                "ok-policy",
                {
                    "policy": '{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],'
                    '"Resource":"arn:aws:s3:::maestro-backups/*"}]}'
                },
            ),
            R(
                IAM_POLICY,
                "bad-policy",
                {
                    "policy": '{"Statement":[{"Effect":"Allow","Action":"s3:*",'
                    '"Resource":"arn:aws:s3:::maestro-backups/*"}]}'
                },
            ),
            R(
                ROLE_POLICY,
                "bad-role-policy",
                {"policy": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
            ),
            R(
                IAM_POLICY,
                "ok-ec2-wildcard",
                {"policy": '{"Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}'},
            ),
            R(GCS_MEMBER, "ok-gcs-member", {"role": "roles/storage.objectUser", "member": "serviceAccount:walg@p"}),
            R(GCS_MEMBER, "bad-gcs-member", {"role": "roles/storage.admin", "member": "serviceAccount:walg@p"}),
        ],
        {"bad-policy", "bad-role-policy", "bad-gcs-member"},
    ),
    "MAESTRO-IAM-003": Case(
        [
            R(ACCESS_KEY, "bad-access-key", {"user": "ci"}),
            R(SA_KEY, "bad-sa-key", {"serviceAccountId": "x"}),
            R(SA, "ok-sa", {"allowSharedKeyAccess": False}),
            R(SA, "bad-sa", {"allowSharedKeyAccess": True}),
            R(SECRET, "ok-secret", {"stringData": {"password": "x"}}),
            R(SECRET, "bad-secret", {"stringData": {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}}),
        ],
        {"bad-access-key", "bad-sa-key", "bad-sa", "bad-secret"},
    ),
    "MAESTRO-IAM-004": Case(
        [
            R(GKE, "ok-gke", {"workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"}}),
            R(GKE, "bad-gke", {}),
            R(
                AKS,
                "ok-aks",
                {"oidcIssuerProfile": {"enabled": True}, "securityProfile": {"workloadIdentity": {"enabled": True}}},
            ),
            R(AKS, "bad-aks", {"oidcIssuerProfile": {"enabled": True}}),
            R(EKS, "bad-eks", {"name": "maestro"}),
        ],
        {"bad-gke", "bad-aks", "bad-eks"},
    ),
    # --- secrets -------------------------------------------------------------------------------------------------
    "MAESTRO-SEC-001": Case(
        [
            deployment(
                "ok-app",
                env=[
                    {"name": "MAESTRO_API_KEY_PEPPER", "valueFrom": {"secretKeyRef": {"name": "api", "key": "pepper"}}},
                    {"name": "MAESTRO_ENVIRONMENT", "value": "prod"},
                    {"name": "PGPASSWORD_FILE", "value": "/run/secrets/pg"},
                ],
            ),
            deployment("bad-app", env=[{"name": "MAESTRO_DATABASE_PASSWORD", "value": "s3cret"}]),
            R(CM, "ok-cm", {"data": {"MAESTRO_ENVIRONMENT": "prod", "TOKEN_TTL_SECONDS": ""}}),
            R(CM, "bad-cm", {"data": {"REDIS_PASSWORD": "hunter2"}}),
        ],
        {"bad-app", "bad-cm"},
    ),
    "MAESTRO-SEC-002": Case(
        [
            R(CM, "bad-cm-key", {"data": {"config": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"}}),
            R(RELEASE, "bad-release", {"values": {"tls": {"key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."}}}),
            R(SECRET, "ok-secret-store", {"stringData": {"tls.key": "-----BEGIN PRIVATE KEY-----\nMII..."}}),
            R(CM, "ok-cm", {"data": {"endpoint": "https://s3.amazonaws.com"}}),
        ],
        {"bad-cm-key", "bad-release"},
    ),
    # --- tagging -------------------------------------------------------------------------------------------------
    "MAESTRO-TAG-001": Case(
        [
            R(BUCKET, "ok-bucket", {"tags": TAGS}),
            R(BUCKET, "bad-bucket", {"tags": {"owner": "platform"}}),
            R(KMS, "bad-kms", {}),
            R(PAB, "ok-not-taggable", {}),
            R("aws:sqs/queue:Queue", "bad-other-tagged", {"tags": {"Name": "x"}}),
        ],
        {"bad-bucket", "bad-kms", "bad-other-tagged"},
    ),
    "MAESTRO-TAG-002": Case(
        [
            R(GCS, "ok-gcs", {"labels": TAGS}),
            R(GCS, "bad-gcs", {"labels": {"owner": "platform", "environment": "prod"}}),
            R(SQL, "ok-sql", {"settings": {"userLabels": TAGS}}),
            R(SQL, "bad-sql", {"settings": {}}),
            R(GKE, "ok-gke", {"resourceLabels": TAGS}),
        ],
        {"bad-gcs", "bad-sql"},
    ),
    "MAESTRO-TAG-003": Case(
        [
            R(SA, "ok-sa", {"tags": TAGS}),
            R(SA, "bad-sa", {}),
            R(CONTAINER, "ok-not-taggable", {}),
        ],
        {"bad-sa"},
    ),
    "MAESTRO-TAG-004": Case(
        [
            deployment("ok-app"),
            deployment("bad-app", meta_labels={"app": "x"}),
            R(NS, "bad-ns", {"metadata": {"name": "maestro"}}),
            R(CM, "ok-configmap-not-required", {"metadata": {"name": "x"}}),
        ],
        {"bad-app", "bad-ns"},
    ),
}

# Passing counterparts for the stack-presence rules (a separate stack each, so both outcomes are tested).
STACK_PASSING: dict[str, list[R]] = {
    "MAESTRO-STK-002": [
        R(BUCKET, "maestro-backups", {"bucket": "maestro-backups"}),
        R(CM, "pod-config", {"data": {"WAL_S3_BUCKET": "maestro-backups", "USE_WALG_BACKUP": "true"}}),
        R(ZPG, "pg", {"spec": {"numberOfInstances": 3}}),
    ],
    "MAESTRO-STK-003": [R(RELEASE, "monitoring", {"chart": "kube-prometheus-stack"})],
    "MAESTRO-STK-004": [
        R(
            RELEASE,
            "ingress",
            {
                "chart": "ingress-nginx",
                "values": {
                    "controller": {"config": {"enable-modsecurity": "true", "enable-owasp-modsecurity-crs": "true"}}
                },
            },
        )
    ],
    "MAESTRO-IAM-004": [R(EKS, "ok-eks", {"name": "maestro"}), R(OIDC, "ok-eks-oidc", {"url": "https://oidc"})],
}
