"""Databases and caches: RDS, Cloud SQL, Azure PostgreSQL flexible server, ElastiCache, Memorystore, Azure Cache
for Redis, and the in-cluster Zalando Postgres. Not public; encrypted at rest and in transit; Redis AUTH; backup
retention; HA and deletion protection in prod."""

from __future__ import annotations

from collections.abc import Iterable

from .props import as_list, containers, falsy_explicit, get, pod_spec, to_int, truthy
from .rule import Family, Res

RULES = Family("databases")

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_PARAMS = frozenset({"aws:rds/parameterGroup:ParameterGroup", "aws:rds/clusterParameterGroup:ClusterParameterGroup"})
ELASTICACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
CLOUD_SQL = "gcp:sql/databaseInstance:DatabaseInstance"
MEMORYSTORE = "gcp:redis/instance:Instance"
AZ_PG = frozenset({"azure-native:dbforpostgresql:Server"})
AZ_REDIS = frozenset({"azure-native:cache:Redis", "azure-native:redis:Redis"})
ZALANDO_PG = "kubernetes:acid.zalan.do/v1:postgresql"
K8S_REDIS_HOSTS = frozenset({"kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment"})

WORLD = frozenset({"0.0.0.0/0", "::/0", "*", "Internet", "Any"})


def _prod(r: Res) -> bool:
    return r.env == "prod"


@RULES.resource(
    "MAESTRO-DB-001",
    "Databases and caches are not reachable from the internet.",
    "Postgres and Redis are reached only from the cluster; a public endpoint invites credential stuffing "
    "and exploits of the wire protocol.",
    "critical",
    "RDS: publiclyAccessible false; Cloud SQL: settings.ipConfiguration.ipv4Enabled false (private IP) and no "
    "0.0.0.0/0 authorized network; Azure: publicNetworkAccess 'Disabled'.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/#publiclyaccessible_python",
    types=[RDS_INSTANCE, CLOUD_SQL, *AZ_PG, *AZ_REDIS, MEMORYSTORE],
)
def not_public(r: Res) -> Iterable[str]:
    p = r.props
    if r.type == RDS_INSTANCE and truthy(get(p, "publiclyAccessible")):
        yield "publiclyAccessible is true."
    elif r.type == CLOUD_SQL:
        ip = get(p, "settings", "ipConfiguration")
        if get(ip, "ipv4Enabled") is not False:
            yield "settings.ipConfiguration.ipv4Enabled is not false (public IP)."
        for n in as_list(get(ip, "authorizedNetworks")):
            if get(n, "value") in WORLD:
                yield f"authorized network {get(n, 'value')} is open to the world."
    elif r.type in AZ_PG:
        if get(p, "network", "publicNetworkAccess") != "Disabled":
            yield "network.publicNetworkAccess is not 'Disabled'."
    elif r.type in AZ_REDIS:
        if get(p, "publicNetworkAccess") != "Disabled":
            yield "publicNetworkAccess is not 'Disabled'."
    elif r.type == MEMORYSTORE and get(p, "connectMode") not in (None, "PRIVATE_SERVICE_ACCESS", "DIRECT_PEERING"):
        yield f"connectMode {get(p, 'connectMode')!r} is not private."


@RULES.resource(
    "MAESTRO-DB-002",
    "Databases and caches are encrypted at rest with a customer-managed key.",
    "Snapshots and replicas inherit the storage encryption; a customer-managed key keeps them revocable.",
    "high",
    "RDS: storageEncrypted true and kmsKeyId; ElastiCache: atRestEncryptionEnabled true and kmsKeyId; Cloud "
    "SQL: encryptionKeyName; Memorystore: customerManagedKey; Azure PostgreSQL: dataEncryption.type "
    "'AzureKeyVault'.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/elasticache/replicationgroup/",
    types=[RDS_INSTANCE, RDS_CLUSTER, ELASTICACHE, CLOUD_SQL, MEMORYSTORE, *AZ_PG],
)
def encrypted_at_rest(r: Res) -> Iterable[str]:
    p = r.props
    if r.type in (RDS_INSTANCE, RDS_CLUSTER):
        if not truthy(get(p, "storageEncrypted")):
            yield "storageEncrypted is not true."
        if not get(p, "kmsKeyId"):
            yield "kmsKeyId is not set."
    elif r.type == ELASTICACHE:
        if not truthy(get(p, "atRestEncryptionEnabled")):
            yield "atRestEncryptionEnabled is not true."
        if not get(p, "kmsKeyId"):
            yield "kmsKeyId is not set."
    elif r.type == CLOUD_SQL and not get(p, "encryptionKeyName"):
        yield "encryptionKeyName is not set."
    elif r.type == MEMORYSTORE and not get(p, "customerManagedKey"):
        yield "customerManagedKey is not set."
    elif r.type in AZ_PG and get(p, "dataEncryption", "type") != "AzureKeyVault":
        yield "dataEncryption.type is not 'AzureKeyVault'."


def _params(p: object) -> dict[str, str]:
    return {str(get(x, "name")): str(get(x, "value")) for x in as_list(get(p, "parameters"))}


@RULES.resource(
    "MAESTRO-DB-003",
    "Databases and caches require TLS in transit.",
    "Credentials and query results cross node and zone boundaries; clear text lets anyone on the path read them.",
    "high",
    "ElastiCache: transitEncryptionEnabled true; Memorystore: transitEncryptionMode 'SERVER_AUTHENTICATION'; "
    "Azure Redis: enableNonSslPort false and minimumTlsVersion '1.2'; Cloud SQL: settings.ipConfiguration.sslMode "
    "'ENCRYPTED_ONLY'; RDS Postgres parameter groups: rds.force_ssl=1.",
    "https://www.pulumi.com/registry/packages/gcp/api-docs/sql/databaseinstance/",
    types=[ELASTICACHE, MEMORYSTORE, *AZ_REDIS, CLOUD_SQL, *RDS_PARAMS],
)
def encrypted_in_transit(r: Res) -> Iterable[str]:
    p = r.props
    if r.type == ELASTICACHE and not truthy(get(p, "transitEncryptionEnabled")):
        yield "transitEncryptionEnabled is not true."
    elif r.type == MEMORYSTORE and get(p, "transitEncryptionMode") != "SERVER_AUTHENTICATION":
        yield "transitEncryptionMode is not 'SERVER_AUTHENTICATION'."
    elif r.type in AZ_REDIS:
        if truthy(get(p, "enableNonSslPort")):
            yield "enableNonSslPort is true."
        if get(p, "minimumTlsVersion") not in ("1.2", "1.3"):
            yield f"minimumTlsVersion is {get(p, 'minimumTlsVersion')!r}."
    elif r.type == CLOUD_SQL:
        ip = get(p, "settings", "ipConfiguration")
        if get(ip, "sslMode") not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"):
            yield "settings.ipConfiguration.sslMode does not require TLS."
    elif (
        r.type in RDS_PARAMS
        and str(get(p, "family", default="")).startswith(("postgres", "aurora-postgresql"))
        and _params(p).get("rds.force_ssl") != "1"
    ):
        yield "parameter rds.force_ssl is not 1."


def _redis_auth_in_pod(spec: object) -> bool | None:
    """None when the pod runs no Redis server; otherwise whether the server requires a password."""
    found = False
    for c in containers(spec, init=False):
        image = str(get(c, "image", default=""))
        repo = image.split("@")[0].split("/")[-1].split(":")[0]
        if not repo.startswith("redis") or "exporter" in repo:
            continue
        found = True
        words = [str(a) for a in as_list(get(c, "command")) + as_list(get(c, "args"))]
        joined = " ".join(words)
        env_names = {get(e, "name") for e in as_list(get(c, "env")) if get(e, "valueFrom", "secretKeyRef")}
        if "--requirepass" in joined or "--aclfile" in joined or env_names & {"REDIS_PASSWORD", "REDIS_PASSWORD_FILE"}:
            continue
        return False
    return True if found else None


@RULES.resource(
    "MAESTRO-DB-004",
    "Redis requires authentication.",
    "Redis holds rate-limit state and cached registry reads; without AUTH anyone on the network can read or flush it.",
    "critical",
    "ElastiCache: set authToken (secret) or userGroupIds; Memorystore: authEnabled true; Azure: keep access "
    "keys or Entra auth (never redisConfiguration.authnotrequired); in-cluster: start redis-server with "
    "--requirepass/--aclfile or REDIS_PASSWORD from a Secret.",
    "https://www.pulumi.com/registry/packages/gcp/api-docs/redis/instance/",
    types=[ELASTICACHE, MEMORYSTORE, *AZ_REDIS, *K8S_REDIS_HOSTS],
)
def redis_auth(r: Res) -> Iterable[str]:
    p = r.props
    if r.type == ELASTICACHE and not (get(p, "authToken") or as_list(get(p, "userGroupIds"))):
        yield "neither authToken nor userGroupIds is set."
    elif r.type == MEMORYSTORE and not truthy(get(p, "authEnabled")):
        yield "authEnabled is not true."
    elif r.type in AZ_REDIS and truthy(get(p, "redisConfiguration", "authnotrequired")):
        yield "redisConfiguration.authnotrequired is true."
    elif r.type in K8S_REDIS_HOSTS and _redis_auth_in_pod(pod_spec(r.type, p)) is False:
        yield "a redis-server container starts without --requirepass/--aclfile or REDIS_PASSWORD from a Secret."


PROD_BACKUP_DAYS = 35
DEV_BACKUP_DAYS = 7


@RULES.resource(
    "MAESTRO-DB-005",
    f"Databases keep backups: {DEV_BACKUP_DAYS}+ days, {PROD_BACKUP_DAYS}+ days in prod.",
    "Point-in-time recovery is only as deep as the retained backups; prod keeps five weeks.",
    "high",
    "RDS: backupRetentionPeriod; Cloud SQL: settings.backupConfiguration.enabled with pointInTimeRecoveryEnabled "
    "and backupRetentionSettings.retainedBackups; Azure PostgreSQL: backup.backupRetentionDays.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/#backupretentionperiod_python",
    types=[RDS_INSTANCE, RDS_CLUSTER, CLOUD_SQL, *AZ_PG],
)
def backup_retention(r: Res) -> Iterable[str]:
    need = PROD_BACKUP_DAYS if _prod(r) else DEV_BACKUP_DAYS
    p = r.props
    if r.type in (RDS_INSTANCE, RDS_CLUSTER):
        days = to_int(get(p, "backupRetentionPeriod"))
        if days < need:
            yield f"backupRetentionPeriod is {days}, needs {need}."
    elif r.type == CLOUD_SQL:
        bc = get(p, "settings", "backupConfiguration")
        if not truthy(get(bc, "enabled")):
            yield "settings.backupConfiguration.enabled is not true."
        if not truthy(get(bc, "pointInTimeRecoveryEnabled")):
            yield "pointInTimeRecoveryEnabled is not true."
        kept = to_int(get(bc, "backupRetentionSettings", "retainedBackups"), 7)
        if kept < need:
            yield f"retainedBackups is {kept}, needs {need}."
    elif r.type in AZ_PG:
        days = to_int(get(p, "backup", "backupRetentionDays"), 7)
        if days < need:
            yield f"backup.backupRetentionDays is {days}, needs {need}."


@RULES.resource(
    "MAESTRO-DB-006",
    "Databases and caches are highly available in prod.",
    "A single zone or a single Postgres member is a planned outage at every maintenance window.",
    "high",
    "RDS: multiAz true; Cloud SQL: availabilityType 'REGIONAL'; Azure PostgreSQL: highAvailability.mode "
    "'ZoneRedundant'; ElastiCache: automaticFailoverEnabled and multiAzEnabled; Memorystore: tier 'STANDARD_HA'; "
    "Azure Redis: a Standard or Premium SKU; Zalando Postgres: numberOfInstances >= 3.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/#multiaz_python",
    types=[RDS_INSTANCE, CLOUD_SQL, *AZ_PG, ELASTICACHE, MEMORYSTORE, *AZ_REDIS, ZALANDO_PG],
)
def high_availability(r: Res) -> Iterable[str]:
    if not _prod(r):
        return
    p = r.props
    if r.type == RDS_INSTANCE and not truthy(get(p, "multiAz")):
        yield "multiAz is not true."
    elif r.type == CLOUD_SQL and get(p, "settings", "availabilityType") != "REGIONAL":
        yield "settings.availabilityType is not 'REGIONAL'."
    elif r.type in AZ_PG and get(p, "highAvailability", "mode") not in ("ZoneRedundant", "SameZone"):
        yield "highAvailability.mode is not set."
    elif r.type == ELASTICACHE:
        if not truthy(get(p, "automaticFailoverEnabled")):
            yield "automaticFailoverEnabled is not true."
        if not truthy(get(p, "multiAzEnabled")):
            yield "multiAzEnabled is not true."
    elif r.type == MEMORYSTORE and get(p, "tier") != "STANDARD_HA":
        yield "tier is not 'STANDARD_HA'."
    elif r.type in AZ_REDIS and get(p, "sku", "name") == "Basic":
        yield "sku 'Basic' has no replica."
    elif r.type == ZALANDO_PG and to_int(get(p, "spec", "numberOfInstances")) < 3:
        yield f"spec.numberOfInstances is {get(p, 'spec', 'numberOfInstances')}, needs 3."


@RULES.resource(
    "MAESTRO-DB-007",
    "Databases have deletion protection in prod.",
    "Dropping the production database must take two deliberate steps, never one bad diff.",
    "high",
    "RDS: deletionProtection true; Cloud SQL: keep deletionProtection (and settings.deletionProtectionEnabled) true.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/#deletionprotection_python",
    types=[RDS_INSTANCE, RDS_CLUSTER, CLOUD_SQL],
)
def deletion_protection(r: Res) -> Iterable[str]:
    if not _prod(r):
        return
    p = r.props
    if r.type in (RDS_INSTANCE, RDS_CLUSTER) and not truthy(get(p, "deletionProtection")):
        yield "deletionProtection is not true."
    elif r.type == CLOUD_SQL:
        # The provider defaults deletionProtection to true: only an explicit false is a violation.
        if falsy_explicit(get(p, "deletionProtection")):
            yield "deletionProtection is false."
        if not truthy(get(p, "settings", "deletionProtectionEnabled")):
            yield "settings.deletionProtectionEnabled is not true."


@RULES.resource(
    "MAESTRO-DB-008",
    "In-cluster Postgres replicates synchronously in prod.",
    "Asynchronous replication can lose acknowledged transactions on failover; prod promises RPO 0.",
    "medium",
    "Set spec.patroni.synchronous_mode true on the Zalando postgresql resource.",
    "https://postgres-operator.readthedocs.io/en/latest/reference/cluster_manifest/#patroni-parameters",
    types=[ZALANDO_PG],
)
def synchronous_replication(r: Res) -> Iterable[str]:
    if _prod(r) and not truthy(get(r.props, "spec", "patroni", "synchronous_mode")):
        yield "spec.patroni.synchronous_mode is not true."
