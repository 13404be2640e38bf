"""Identity and keys: key rotation, no wildcard IAM actions on data buckets, workload identity instead of static
keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .props import as_list, get, json_doc, statements, to_int, truthy
from .rule import Family, Res

RULES = Family("identity")

AWS_KMS = "aws:kms/key:Key"
GCP_KMS = "gcp:kms/cryptoKey:CryptoKey"
AZ_KEY = "azure-native:keyvault:Key"
AWS_POLICY_DOCS = frozenset(
    {
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
        "aws:s3/bucketPolicy:BucketPolicy",
    }
)
GCS_IAM = frozenset(
    {
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    }
)
AWS_ACCESS_KEY = "aws:iam/accessKey:AccessKey"
GCP_SA_KEY = "gcp:serviceaccount/key:Key"
AZ_ACCOUNT = "azure-native:storage:StorageAccount"
K8S_SECRET = "kubernetes:core/v1:Secret"  # noqa: S105 - a type token, not a password
EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"

MAX_ROTATION_DAYS = 365
WILDCARD_ACTIONS = frozenset({"*", "s3:*"})
BROAD_GCS_ROLES = frozenset({"roles/storage.admin", "roles/owner", "roles/editor"})
STATIC_CREDENTIAL_KEYS = frozenset(
    {
        "AWS_SECRET_ACCESS_KEY",
        "aws_secret_access_key",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_CLIENT_SECRET",
        "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        "credentials.json",
        "service-account.json",
        "key.json",
    }
)


def _duration_seconds(value: object) -> int:
    s = str(value or "")
    return to_int(s[:-1]) if s.endswith("s") else 0


@RULES.resource(
    "MAESTRO-IAM-001",
    f"Encryption keys rotate automatically, at least every {MAX_ROTATION_DAYS} days.",
    "Rotation bounds how much data one leaked key version can decrypt.",
    "high",
    "AWS: enableKeyRotation true (symmetric keys); GCP: rotationPeriod (e.g. '7776000s'); Azure: "
    "properties.rotationPolicy with a 'rotate' lifetime action.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/kms/key/#enablekeyrotation_python",
    types=[AWS_KMS, GCP_KMS, AZ_KEY],
)
def key_rotation(r: Res) -> Iterable[str]:
    p = r.props
    if r.type == AWS_KMS:
        spec = get(p, "customerMasterKeySpec", default="SYMMETRIC_DEFAULT")
        if spec == "SYMMETRIC_DEFAULT" and not truthy(get(p, "enableKeyRotation")):
            yield "enableKeyRotation is not true."
        elif to_int(get(p, "rotationPeriodInDays")) > MAX_ROTATION_DAYS:
            yield f"rotationPeriodInDays exceeds {MAX_ROTATION_DAYS}."
    elif r.type == GCP_KMS:
        secs = _duration_seconds(get(p, "rotationPeriod"))
        if not secs or secs > MAX_ROTATION_DAYS * 86400:
            yield f"rotationPeriod is {get(p, 'rotationPeriod')!r}."
    elif r.type == AZ_KEY:
        actions = as_list(get(p, "properties", "rotationPolicy", "lifetimeActions"))
        if not any(get(a, "action", "type") in ("Rotate", "rotate") for a in actions):
            yield "properties.rotationPolicy has no rotate lifetime action."


def _touches_s3(resource: object) -> bool:
    return any(str(x) == "*" or str(x).startswith("arn:aws:s3:::") for x in as_list(resource))


@RULES.resource(
    "MAESTRO-IAM-002",
    "No wildcard actions on data buckets.",
    "`s3:*` includes DeleteBucket, PutBucketPolicy and PutObjectLockConfiguration: a leaked workload "
    "credential could destroy backups.",
    "high",
    "Grant only the actions the workload uses (e.g. s3:GetObject, s3:PutObject, s3:ListBucket); on GCS grant "
    "roles/storage.objectUser (or objectViewer) instead of storage.admin, owner or editor.",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
    types=[*AWS_POLICY_DOCS, *GCS_IAM],
)
def no_wildcard_actions(r: Res) -> Iterable[str]:
    if r.type in GCS_IAM:
        if get(r.props, "role") in BROAD_GCS_ROLES:
            yield f"role {get(r.props, 'role')} on a bucket."
        return
    for i, st in enumerate(statements(json_doc(get(r.props, "policy")))):
        if get(st, "Effect") != "Allow":
            continue
        actions = {str(a) for a in as_list(get(st, "Action"))}
        wild = sorted(actions & WILDCARD_ACTIONS)
        target = get(st, "Resource") if r.type != "aws:s3/bucketPolicy:BucketPolicy" else "*"
        if wild and _touches_s3(target):
            yield f"Statement[{i}] allows {', '.join(wild)}."


@RULES.resource(
    "MAESTRO-IAM-003",
    "Workloads use workload identity, never static cloud keys.",
    "Static keys do not expire, get copied into laptops and CI logs, and cannot be tied to one pod.",
    "critical",
    "Delete the access key / service-account key; bind the Kubernetes service account to a cloud role (IRSA or "
    "EKS Pod Identity, GKE Workload Identity, Azure Workload Identity); on Azure set allowSharedKeyAccess false.",
    "https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity",
    types=[AWS_ACCESS_KEY, GCP_SA_KEY, AZ_ACCOUNT, K8S_SECRET],
)
def no_static_keys(r: Res) -> Iterable[str]:
    if r.type in (AWS_ACCESS_KEY, GCP_SA_KEY):
        yield "a long-lived cloud access key is created."
    elif r.type == AZ_ACCOUNT and get(r.props, "allowSharedKeyAccess") is not False:
        yield "allowSharedKeyAccess is not false (account keys usable)."
    elif r.type == K8S_SECRET:
        keys = set(get(r.props, "data", default={})) | set(get(r.props, "stringData", default={}))
        found = sorted(keys & STATIC_CREDENTIAL_KEYS)
        if found:
            yield f"the Secret carries static cloud credentials ({', '.join(found)})."


@RULES.stack(
    "MAESTRO-IAM-004",
    "Managed Kubernetes clusters have workload identity enabled.",
    "Workload identity is what lets WAL-G and MLflow reach buckets without static keys.",
    "high",
    "EKS: an aws.iam.OpenIdConnectProvider for the cluster issuer (IRSA) or the eks-pod-identity-agent addon; "
    "GKE: workloadIdentityConfig.workloadPool; AKS: oidcIssuerProfile.enabled and "
    "securityProfile.workloadIdentity.enabled.",
    "https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html",
    covers=("aws", "gcp", "azure"),
)
def workload_identity(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    types = {r.type for r in resources}
    addons = {get(r.props, "addonName") for r in resources if r.type == "aws:eks/addon:Addon"}
    eks_ok = (
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider" in types
        or "aws:eks/podIdentityAssociation:PodIdentityAssociation" in types
        or "eks-pod-identity-agent" in addons
    )
    for r in resources:
        if r.type == EKS and not eks_ok:
            yield r.urn, f"EKS cluster {r.name} has neither an IRSA OIDC provider nor EKS Pod Identity."
        elif r.type == GKE and not get(r.props, "workloadIdentityConfig", "workloadPool"):
            yield r.urn, f"GKE cluster {r.name} has no workloadIdentityConfig.workloadPool."
        elif r.type == AKS and not (
            truthy(get(r.props, "oidcIssuerProfile", "enabled"))
            and truthy(get(r.props, "securityProfile", "workloadIdentity", "enabled"))
        ):
            yield r.urn, f"AKS cluster {r.name} does not enable the OIDC issuer and workload identity."
