"""Stack-level: what the platform as a whole must have. A default-deny NetworkPolicy in every namespace, backups,
monitoring and a WAF."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .props import WORKLOAD_TYPES, as_list, containers, get, name_of, namespace_of, pod_spec, truthy
from .rule import Family, Res

RULES = Family("platform")

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HELM_RELEASES = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"}
)
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

WAF_TYPES = frozenset(
    {
        "aws:wafv2/webAcl:WebAcl",
        "gcp:compute/securityPolicy:SecurityPolicy",
        "azure-native:network:WebApplicationFirewallPolicy",
    }
)
BACKUP_STORAGE_TYPES = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "gcp:storage/bucket:Bucket",
        "azure-native:storage:BlobContainer",
        "azure-native:storage:StorageAccount",
    }
)
MONITORING_TYPES = frozenset(
    {
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        "kubernetes:monitoring.coreos.com/v1:Prometheus",
    }
)
WALG_PREFIXES = ("WALG_", "WAL_S3_BUCKET", "WAL_GS_BUCKET", "WAL_AZ_", "WAL_BUCKET_SCOPE")


def _release_namespace(r: Res) -> str | None:
    ns = get(r.props, "namespace")
    return str(ns) if isinstance(ns, str) and ns else None


def _is_default_deny(np: Res) -> bool:
    spec = get(np.props, "spec", default={})
    selector = get(spec, "podSelector", default={})
    selects_all = not get(selector, "matchLabels") and not as_list(get(selector, "matchExpressions"))
    types = {str(t) for t in as_list(get(spec, "policyTypes"))}
    return selects_all and "Ingress" in types and not as_list(get(spec, "ingress"))


@RULES.stack(
    "MAESTRO-STK-001",
    "Every namespace has a default-deny NetworkPolicy.",
    "Kubernetes allows all pod-to-pod traffic by default; a default deny makes every allowed flow an "
    "explicit, reviewed NetworkPolicy.",
    "high",
    "Add a NetworkPolicy in the namespace with podSelector {} , policyTypes [Ingress, Egress] and no ingress "
    "rules, then allow the needed flows with narrower policies.",
    "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic",
    covers=("kubernetes",),
)
def default_deny(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    namespaces: dict[str, str] = {}
    for r in resources:
        if r.type == NAMESPACE:
            namespaces[name_of(r.name, r.props)] = r.urn
    for r in resources:
        ns = None
        if r.type in WORKLOAD_TYPES or r.type in (K8S_INGRESS, "kubernetes:core/v1:Service"):
            ns = namespace_of(r.props)
        elif r.type in HELM_RELEASES:
            ns = _release_namespace(r)
        if ns is not None and ns not in namespaces:
            namespaces[ns] = r.urn
    denied = {namespace_of(np.props) for np in resources if np.type == NETWORK_POLICY and _is_default_deny(np)}
    for ns, urn in sorted(namespaces.items()):
        if ns not in SYSTEM_NAMESPACES and ns not in denied:
            yield urn, f"namespace {ns} has no default-deny ingress NetworkPolicy."


def _has_walg(resources: Sequence[Res]) -> bool:
    for r in resources:
        data = get(r.props, "data", default={}) if r.type == "kubernetes:core/v1:ConfigMap" else {}
        if any(str(k).startswith(WALG_PREFIXES) for k in data):
            return True
        spec = pod_spec(r.type, r.props) if r.type in WORKLOAD_TYPES else None
        for c in containers(spec) if spec is not None else []:
            if any(str(get(e, "name", default="")).startswith(WALG_PREFIXES) for e in as_list(get(c, "env"))):
                return True
        if r.type == "kubernetes:acid.zalan.do/v1:postgresql":
            env = as_list(get(r.props, "spec", "env"))
            if any(str(get(e, "name", default="")).startswith(WALG_PREFIXES) for e in env):
                return True
    return False


@RULES.stack(
    "MAESTRO-STK-002",
    "The platform has backups.",
    "Every stack must be restorable: continuous WAL archiving plus base backups to object storage.",
    "critical",
    "Create the backup bucket (name containing 'backup' or tag purpose=backup) and configure WAL-G (WALG_* / "
    "WAL_S3_BUCKET settings) for the Postgres cluster, or a backup CronJob.",
    "https://postgres-operator.readthedocs.io/en/latest/administrator/#wal-archiving-and-physical-basebackups",
    covers=("aws", "gcp", "azure", "kubernetes"),
)
def has_backups(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    storage = any(
        r.type in BACKUP_STORAGE_TYPES
        and (
            "backup" in r.name
            or "backup" in str(get(r.props, "bucket", default=""))
            or get(r.props, "tags", "purpose") == "backup"
        )
        for r in resources
    )
    aws_backup = any(r.type == "aws:backup/plan:Plan" for r in resources)
    cronjob = any(r.type == "kubernetes:batch/v1:CronJob" and "backup" in name_of(r.name, r.props) for r in resources)
    if not (aws_backup or cronjob or (storage and _has_walg(resources)) or (storage and not _any_postgres(resources))):
        yield "", "no backup storage with WAL archiving, AWS Backup plan or backup CronJob found."


def _any_postgres(resources: Sequence[Res]) -> bool:
    return any(r.type == "kubernetes:acid.zalan.do/v1:postgresql" for r in resources)


def _chart(r: Res) -> str:
    return str(get(r.props, "chart", default=""))


@RULES.stack(
    "MAESTRO-STK-003",
    "The platform has monitoring.",
    "Alerts on backups, replication and the API's SLO are part of the product, not an add-on.",
    "high",
    "Deploy kube-prometheus-stack (Helm release) with the platform's PrometheusRules.",
    "https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack",
    covers=("kubernetes",),
)
def has_monitoring(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    helm = any(r.type in HELM_RELEASES and "prometheus" in _chart(r) for r in resources)
    crds = any(r.type in MONITORING_TYPES for r in resources)
    if not (helm or crds):
        yield "", "no Prometheus (kube-prometheus-stack release or monitoring.coreos.com resources) found."


def _ingress_nginx_modsecurity(r: Res) -> bool:
    if r.type not in HELM_RELEASES or "ingress-nginx" not in _chart(r):
        return False
    cfg = get(r.props, "values", "controller", "config", default={})
    return truthy(get(cfg, "enable-modsecurity")) and truthy(get(cfg, "enable-owasp-modsecurity-crs"))


@RULES.stack(
    "MAESTRO-STK-004",
    "The platform has a WAF.",
    "The WAF is part of the baseline on every target; a stack without one exposes the API unfiltered.",
    "critical",
    "AWS: a wafv2 WebAcl; GCP: a Cloud Armor SecurityPolicy; Azure: a WebApplicationFirewallPolicy; plain "
    "Kubernetes: ingress-nginx with enable-modsecurity and enable-owasp-modsecurity-crs (or the per-Ingress "
    "annotations).",
    "https://kubernetes.github.io/ingress-nginx/user-guide/third-party-addons/modsecurity/",
    covers=("aws", "gcp", "azure", "kubernetes"),
)
def has_waf(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    cloud = any(r.type in WAF_TYPES for r in resources)
    nginx = any(_ingress_nginx_modsecurity(r) for r in resources)
    annotated = any(
        r.type == K8S_INGRESS
        and truthy(get(r.props, "metadata", "annotations", "nginx.ingress.kubernetes.io/enable-modsecurity"))
        for r in resources
    )
    if not (cloud or nginx or annotated):
        yield "", "no WAF (WebAcl, Cloud Armor, Azure WAF policy or ingress-nginx ModSecurity) found."
