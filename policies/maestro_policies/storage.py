"""Storage: S3 / GCS / Azure Storage. No public access, customer-managed keys, versioning, access logging, TLS only,
retention or immutability on backups.

AWS v7 splits a bucket's settings into companion resources (BucketVersioning, BucketLogging, ...), each naming the
bucket in its `bucket` input (usually `bucket.id`). Stack rules pair a bucket with its companions when the
companion's `bucket` equals the bucket's name or id (both in the state the engine sends to AnalyzeStack; unknown
during a first preview, which makes the rule report "unknown"), or when the companion is named
`<bucket resource name>-<suffix>`, the house naming rule for children.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .props import as_list, falsy_explicit, get, json_doc, statements, to_int, truthy
from .rule import Family, Res

RULES = Family("storage")

S3_BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ACLS = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})
S3_SSE = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
S3_VERSIONING = frozenset({"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"})
S3_LOGGING = frozenset({"aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"})
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
S3_OBJECT_LOCK = frozenset(
    {
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
    }
)
GCS_BUCKET = "gcp:storage/bucket:Bucket"
GCP_AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
GCS_IAM = frozenset({"gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding"})
AZ_ACCOUNT = "azure-native:storage:StorageAccount"
AZ_CONTAINER = "azure-native:storage:BlobContainer"
AZ_BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
AZ_DIAGNOSTICS = frozenset({"azure-native:insights:DiagnosticSetting", "azure-native:monitor:DiagnosticSetting"})

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
MIN_BACKUP_RETENTION_DAYS = 7


def bucket_keys(b: Res) -> set[str]:
    """What a companion's `bucket` input may hold for this bucket: its name or its id (the same in AWS)."""
    keys = {b.name}
    for prop in ("bucket", "id"):
        value = get(b.props, prop)
        if isinstance(value, str) and value:
            keys.add(value)
    return keys


def companions(bucket: Res, resources: Sequence[Res], types: Iterable[str]) -> list[Res]:
    """The companion resources of these types that configure `bucket` (see the module docstring)."""
    wanted = set(types)
    keys = bucket_keys(bucket)
    found = []
    for r in resources:
        if r.type not in wanted:
            continue
        target = get(r.props, "bucket")
        if (isinstance(target, str) and target in keys) or r.name.startswith(f"{bucket.name}-"):
            found.append(r)
    return found


def is_backup_bucket(r: Res) -> bool:
    names = [r.name, str(get(r.props, "bucket", default="")), str(get(r.props, "name", default=""))]
    purpose = get(r.props, "tags", "purpose") or get(r.props, "labels", "purpose")
    return purpose == "backup" or any("backup" in n for n in names)


# --- MAESTRO-STO-001 ------------------------------------------------------------------------------------------


@RULES.resource(
    "MAESTRO-STO-001",
    "Object storage must not be publicly accessible.",
    "Buckets hold database backups and model artifacts; one public ACL or allUsers grant leaks them all.",
    "critical",
    "Set all four S3 public access block flags to true and drop public ACLs; on GCS enforce public access "
    "prevention with uniform bucket-level access and grant no allUsers/allAuthenticatedUsers role; on Azure set "
    "allowBlobPublicAccess=false and publicAccess=None on containers.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucketpublicaccessblock/",
    types=[S3_PAB, *S3_ACLS, *S3_BUCKETS, GCS_BUCKET, *GCS_IAM, AZ_ACCOUNT, AZ_CONTAINER],
)
def no_public_storage(r: Res) -> Iterable[str]:
    p = r.props
    if r.type == S3_PAB:
        off = [
            f
            for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            if not truthy(get(p, f))
        ]
        if off:
            yield f"public access block leaves {', '.join(off)} off."
    elif r.type in S3_ACLS or r.type in S3_BUCKETS:
        acl = get(p, "acl")
        if acl in PUBLIC_ACLS:
            yield f"canned ACL {acl!r} makes the bucket public."
    elif r.type == GCS_BUCKET:
        if get(p, "publicAccessPrevention") != "enforced":
            yield "publicAccessPrevention is not 'enforced'."
        if not truthy(get(p, "uniformBucketLevelAccess")):
            yield "uniformBucketLevelAccess is not enabled (object ACLs could make objects public)."
    elif r.type in GCS_IAM:
        members = as_list(get(p, "members")) + as_list(get(p, "member"))
        public = sorted(set(members) & PUBLIC_MEMBERS)
        if public:
            yield f"grants {get(p, 'role')} to {', '.join(public)}."
    elif r.type == AZ_ACCOUNT:
        if get(p, "allowBlobPublicAccess") is not False:
            yield "allowBlobPublicAccess is not false."
    elif r.type == AZ_CONTAINER and get(p, "publicAccess") not in (None, "None"):
        yield f"container publicAccess is {get(p, 'publicAccess')!r}."


@RULES.stack(
    "MAESTRO-STO-002",
    "Every S3 bucket has a public access block.",
    "Without a bucket-level public access block, a later ACL or policy change can expose the bucket.",
    "high",
    "Add an aws.s3.BucketPublicAccessBlock for the bucket (named '<bucket>-public-access') with all four flags true.",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
    covers=("aws",),
)
def s3_has_public_access_block(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    for b in resources:
        if b.type in S3_BUCKETS and not companions(b, resources, [S3_PAB]):
            yield b.urn, f"bucket {b.name} has no BucketPublicAccessBlock."


# --- MAESTRO-STO-003 ------------------------------------------------------------------------------------------


def _sse_rules(sse: Res) -> list[tuple[object, object]]:
    """(sseAlgorithm, kmsMasterKeyId) of each default-encryption rule."""
    return [
        (
            get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"),
            get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"),
        )
        for rule in as_list(get(sse.props, "rules"))
    ]


def _is_log_target(bucket: Res, resources: Sequence[Res]) -> bool:
    keys = bucket_keys(bucket)
    return any(r.type in S3_LOGGING and get(r.props, "targetBucket") in keys for r in resources)


@RULES.stack(
    "MAESTRO-STO-003",
    "Object storage is encrypted with a customer-managed key.",
    "A customer-managed key lets us rotate, audit and revoke access to backups independently of the "
    "storage service's own key. S3 access-log target buckets are the one exception: S3 server access logging "
    "only delivers to buckets encrypted with SSE-S3, so they need default encryption, not a KMS key.",
    "high",
    "S3: a BucketServerSideEncryptionConfiguration (sseAlgorithm 'aws:kms' with kmsMasterKeyId; SSE-S3 "
    "'AES256' for access-log target buckets); GCS: encryption.defaultKmsKeyName; Azure: encryption.keySource "
    "'Microsoft.Keyvault' with keyVaultProperties.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucketserversideencryptionconfiguration/",
    covers=("aws", "gcp", "azure"),
)
def storage_cmk(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    for r in resources:
        if r.type in S3_BUCKETS:
            rules = [x for c in companions(r, resources, S3_SSE) for x in _sse_rules(c)]
            inline = get(r.props, "serverSideEncryptionConfiguration", "rule", "applyServerSideEncryptionByDefault")
            if inline is not None:
                rules.append((get(inline, "sseAlgorithm"), get(inline, "kmsMasterKeyId")))
            if not rules:
                yield r.urn, f"bucket {r.name} has no default encryption configuration."
            elif _is_log_target(r, resources):
                if not all(algo in ("AES256", "aws:kms", "aws:kms:dsse") for algo, _ in rules):
                    yield r.urn, f"log bucket {r.name} has no default encryption."
            elif not all(algo in ("aws:kms", "aws:kms:dsse") and key for algo, key in rules):
                yield r.urn, f"bucket {r.name} is not encrypted with a customer-managed KMS key."
        elif r.type == GCS_BUCKET and not get(r.props, "encryption", "defaultKmsKeyName"):
            yield r.urn, f"bucket {r.name} has no encryption.defaultKmsKeyName (Google-managed key)."
        elif r.type == AZ_ACCOUNT and get(r.props, "encryption", "keySource") != "Microsoft.Keyvault":
            yield r.urn, f"storage account {r.name}: encryption.keySource is not 'Microsoft.Keyvault'."


# --- MAESTRO-STO-004 ------------------------------------------------------------------------------------------


@RULES.stack(
    "MAESTRO-STO-004",
    "S3 buckets disable ACLs (object ownership BucketOwnerEnforced).",
    "With ACLs disabled, access is decided by policies alone; no object uploaded with a public or "
    "foreign-owner ACL can slip past the bucket policy.",
    "medium",
    "Add an aws.s3.BucketOwnershipControls for the bucket with rule.objectOwnership 'BucketOwnerEnforced'.",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html",
    covers=("aws",),
)
def s3_acls_disabled(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    for b in resources:
        if b.type not in S3_BUCKETS:
            continue
        controls = companions(b, resources, [S3_OWNERSHIP])
        if not any(get(c.props, "rule", "objectOwnership") == "BucketOwnerEnforced" for c in controls):
            yield b.urn, f"bucket {b.name} does not enforce bucket-owner object ownership (ACLs enabled)."


# --- MAESTRO-STO-005 ------------------------------------------------------------------------------------------


@RULES.stack(
    "MAESTRO-STO-005",
    "Object storage keeps versions of overwritten and deleted objects.",
    "Versioning turns an accidental overwrite or a ransomware delete of a backup into a restore.",
    "medium",
    "S3: a BucketVersioning with versioningConfiguration.status 'Enabled'; GCS: versioning.enabled true (or a "
    "retentionPolicy, with which GCS refuses versioning); "
    "Azure: a BlobServiceProperties with isVersioningEnabled true.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucketversioning/",
    covers=("aws", "gcp", "azure"),
)
def versioning(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    for r in resources:
        if r.type in S3_BUCKETS:
            found = companions(r, resources, S3_VERSIONING)
            inline = truthy(get(r.props, "versioning", "enabled"))
            ok = inline or any(get(v.props, "versioningConfiguration", "status") == "Enabled" for v in found)
            if not ok:
                yield r.urn, f"bucket {r.name} has no enabled BucketVersioning."
        elif r.type == GCS_BUCKET and not (
            # GCS refuses versioning on a bucket with a retention policy; the retention lock protects more.
            truthy(get(r.props, "versioning", "enabled")) or to_int(get(r.props, "retentionPolicy", "retentionPeriod"))
        ):
            yield r.urn, f"bucket {r.name} has neither versioning.enabled nor a retentionPolicy."
        elif r.type == AZ_BLOB_SERVICE and not truthy(get(r.props, "isVersioningEnabled")):
            yield r.urn, f"blob service {r.name} has isVersioningEnabled unset."
        elif r.type == AZ_ACCOUNT and not _azure_blob_services(r, resources):
            yield r.urn, f"storage account {r.name} has no BlobServiceProperties (versioning, soft delete)."


def _azure_blob_services(account: Res, resources: Sequence[Res]) -> list[Res]:
    acct_name = get(account.props, "accountName")
    return [
        s
        for s in resources
        if s.type == AZ_BLOB_SERVICE
        and (s.name.startswith(f"{account.name}-") or (acct_name and get(s.props, "accountName") == acct_name))
    ]


# --- MAESTRO-STO-006 ------------------------------------------------------------------------------------------


@RULES.stack(
    "MAESTRO-STO-006",
    "Object storage access is logged.",
    "Access logs are how a leaked credential or an unexpected reader of backups is found after the fact. "
    "The S3 bucket that receives access logs is exempt (logging it into itself would recurse).",
    "medium",
    "S3: a BucketLogging (named '<bucket>-logging') with a targetBucket; GCS: a projects.IAMAuditConfig for "
    "storage.googleapis.com with DATA_READ and DATA_WRITE (or logging.logBucket); Azure: a "
    "DiagnosticSetting for the storage account (named '<account>-diagnostics').",
    "https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucketlogging/",
    covers=("aws", "gcp", "azure"),
)
def access_logging(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    gcs_audited = _gcs_data_access_audited(resources)
    for r in resources:
        if r.type in S3_BUCKETS:
            found = [c for c in companions(r, resources, S3_LOGGING) if get(c.props, "targetBucket")]
            # The log bucket itself is not logged: logging it into itself recurses, elsewhere only moves the question.
            if not found and not get(r.props, "logging", "targetBucket") and not _is_log_target(r, resources):
                yield r.urn, f"bucket {r.name} has no access logging."
        elif r.type == GCS_BUCKET and not (get(r.props, "logging", "logBucket") or gcs_audited):
            yield r.urn, f"bucket {r.name} has no logging.logBucket and storage data-access audit logs are off."
        elif r.type == AZ_ACCOUNT:
            diag = [d for d in resources if d.type in AZ_DIAGNOSTICS and d.name.startswith(f"{r.name}-")]
            if not diag:
                yield r.urn, f"storage account {r.name} has no DiagnosticSetting."


def _gcs_data_access_audited(resources: Sequence[Res]) -> bool:
    """Cloud Audit Logs Data Access (DATA_READ + DATA_WRITE) on for Cloud Storage: the current form of GCS access
    logs (usage logs via logging.logBucket are the legacy one)."""
    for r in resources:
        if r.type == GCP_AUDIT_CONFIG and get(r.props, "service") in ("storage.googleapis.com", "allServices"):
            kinds = {get(c, "logType") for c in as_list(get(r.props, "auditLogConfigs"))}
            if {"DATA_READ", "DATA_WRITE"} <= kinds:
                return True
    return False


# --- MAESTRO-STO-007 ------------------------------------------------------------------------------------------


def _denies_insecure_transport(doc: object) -> bool:
    for st in statements(doc):
        cond = get(st, "Condition", "Bool", "aws:SecureTransport")
        if get(st, "Effect") == "Deny" and str(cond).lower() == "false":
            return True
    return False


@RULES.stack(
    "MAESTRO-STO-007",
    "Object storage accepts TLS connections only.",
    "Backups and artifacts must never cross a network in clear text, even inside a VPC.",
    "high",
    "S3: a BucketPolicy with a Deny statement on Condition Bool aws:SecureTransport=false; Azure: "
    "enableHttpsTrafficOnly true and minimumTlsVersion 'TLS1_2' (GCS serves HTTPS only).",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html",
    covers=("aws", "azure"),
)
def tls_only(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    for r in resources:
        if r.type in S3_BUCKETS:
            policies = [json_doc(get(c.props, "policy")) for c in companions(r, resources, [S3_POLICY])]
            policies.append(json_doc(get(r.props, "policy")))
            if not any(_denies_insecure_transport(d) for d in policies):
                yield r.urn, f"bucket {r.name} has no policy denying aws:SecureTransport=false."
        elif r.type == AZ_ACCOUNT:
            if falsy_explicit(get(r.props, "enableHttpsTrafficOnly")):
                yield r.urn, f"storage account {r.name} allows HTTP (enableHttpsTrafficOnly false)."
            if get(r.props, "minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
                yield r.urn, f"storage account {r.name} minimumTlsVersion is {get(r.props, 'minimumTlsVersion')!r}."


# --- MAESTRO-STO-008 ------------------------------------------------------------------------------------------


@RULES.stack(
    "MAESTRO-STO-008",
    "Backup storage has retention or immutability.",
    "A backup that an attacker (or a bad script) can delete right away is not a backup.",
    "high",
    f"S3 backup buckets: objectLockEnabled with a BucketObjectLockConfiguration; GCS backup buckets: a "
    f"retentionPolicy or softDeletePolicy of at least {MIN_BACKUP_RETENTION_DAYS} days; Azure: "
    f"deleteRetentionPolicy enabled for at least {MIN_BACKUP_RETENTION_DAYS} days on the blob service.",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html",
    covers=("aws", "gcp", "azure"),
)
def backup_retention(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    min_seconds = MIN_BACKUP_RETENTION_DAYS * 86400
    for r in resources:
        if r.type in S3_BUCKETS and is_backup_bucket(r):
            locks = companions(r, resources, S3_OBJECT_LOCK)
            enabled = truthy(get(r.props, "objectLockEnabled")) or any(
                get(lock.props, "objectLockEnabled") == "Enabled" for lock in locks
            )
            if not (enabled and locks):
                yield r.urn, f"backup bucket {r.name} has no object lock configuration."
        elif r.type == GCS_BUCKET and is_backup_bucket(r):
            retention = to_int(get(r.props, "retentionPolicy", "retentionPeriod"))
            soft = to_int(get(r.props, "softDeletePolicy", "retentionDurationSeconds"))
            if max(retention, soft) < min_seconds:
                yield (
                    r.urn,
                    f"backup bucket {r.name} keeps deleted objects for less than {MIN_BACKUP_RETENTION_DAYS} days.",
                )
        elif r.type == AZ_BLOB_SERVICE:
            pol = get(r.props, "deleteRetentionPolicy")
            if not truthy(get(pol, "enabled")) or to_int(get(pol, "days")) < MIN_BACKUP_RETENTION_DAYS:
                yield r.urn, f"blob service {r.name} has no delete retention of {MIN_BACKUP_RETENTION_DAYS}+ days."
