"""The seam between a target's Foundation and the cloud-agnostic workloads: what every Foundation is given, the
component it builds under, and what it returns.

A Foundation is a `FoundationBuilder` (one per target folder, found through foundations/table.py): it creates the
`Foundation` component `maestro:<target>:Foundation`, hangs its resources under it and returns a
`FoundationOutputs`. The workloads (components/workloads/) take only this module's types and never import a
Foundation or a cloud SDK, so adding a cloud means adding one Foundation that fills these fields:

- buckets (`BucketRef.scheme`): s3 (AWS), gs (GCP), azure (Azure); none on plain Kubernetes.
- identity annotations: `eks.amazonaws.com/role-arn` (IRSA), `iam.gke.io/gcp-service-account`,
  `azure.workload.identity/client-id` (plus the pod label `azure.workload.identity/use`); none on plain Kubernetes.
- ingress and WAF: ALB + `alb.ingress.kubernetes.io/wafv2-acl-arn`; Cloud Armor; Azure WAF policy;
  ingress-nginx + ModSecurity/CRS on plain Kubernetes.
- managed Redis: ElastiCache, Memorystore, Azure Cache; none (the in-cluster StatefulSet) on plain Kubernetes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import pulumi

from components.config import MaestroConfig, Ports

T = TypeVar("T")
BucketPurpose = Literal["backup", "artifact"]
BUCKET_PURPOSES: tuple[BucketPurpose, ...] = ("backup", "artifact")


@dataclass(frozen=True)
class IdentityRequest:
    """A Kubernetes service account that must reach one bucket; the platform asks the Foundation for it."""

    namespace: str
    """Namespace of the service account."""
    service_account: str
    """Name of the service account."""
    bucket: BucketPurpose
    """The only bucket this identity may read and write."""


@dataclass(frozen=True)
class WorkloadIdentity:
    """How a pod running as `namespace/service_account` gets the cloud identity the Foundation created for it."""

    namespace: str
    """Namespace of the service account (as requested)."""
    service_account: str
    """Name of the service account (as requested)."""
    annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations to put on the ServiceAccount (e.g. the IAM role ARN for IRSA)."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the pods need (Azure Workload Identity wants one); empty on AWS and GCP."""


@dataclass(frozen=True)
class BucketRef:
    """An object-store bucket, described so WAL-G and MLflow can be configured without a cloud SDK."""

    scheme: Literal["s3", "gs", "azure"]
    """URL scheme and WAL-G storage type."""
    name: pulumi.Output[str]
    """Bucket (or container) name."""
    region: str
    """Region of the bucket."""
    kms_key_id: pulumi.Output[str] | None = None
    """Customer-managed key the objects must be written with (WAL-G's server-side encryption), if any."""

    @property
    def url(self) -> pulumi.Output[str]:
        """`<scheme>://<name>`."""
        return self.name.apply(lambda n: f"{self.scheme}://{n}")


@dataclass(frozen=True)
class RedisEndpoint:
    """A managed Redis the Foundation created (AUTH and TLS in transit)."""

    host: pulumi.Output[str]
    """Primary endpoint host name."""
    port: int
    """Port (from config/ports.yaml)."""
    password: pulumi.Output[str]
    """AUTH token, a secret output."""
    tls: bool = True
    """Whether clients must use TLS (`rediss://`)."""


@dataclass(frozen=True)
class RegistryRef:
    """A container registry the program pushes its images to."""

    api_repository: pulumi.Output[str]
    """Repository URL for the Maestro API image, without tag."""
    mlflow_repository: pulumi.Output[str]
    """Repository URL for the MLflow image, without tag."""
    server: pulumi.Output[str]
    """Registry host for authentication."""
    username: pulumi.Output[str]
    """Push user name."""
    password: pulumi.Output[str]
    """Push password, a secret output."""


@dataclass(frozen=True)
class FoundationOutputs:
    """What every Foundation hands to the Kubernetes workloads."""

    cloud: Literal["kubernetes", "aws", "gcp", "azure"]
    """Which Foundation produced this (for outputs and docs only; workloads must not branch on it)."""
    k8s_provider: pulumi.ProviderResource
    """The Kubernetes provider every workload resource uses."""
    cluster_name: pulumi.Output[str]
    """Name of the cluster (an output for operators)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig for operators, a secret output."""
    storage_class: str
    """StorageClass for persistent volumes (encrypted where the cloud supports it)."""
    ingress_class: str
    """IngressClass of the public ingress controller."""
    ingress_annotations: Mapping[str, pulumi.Input[str]]
    """Annotations that put the API's ingress behind the load balancer and attach the WAF."""
    ingress_peers: Sequence[Mapping[str, Any]]
    """NetworkPolicy peers the API's public traffic arrives from (the load balancer's subnets or the ingress
    controller's namespace)."""
    service_cidrs: Sequence[str]
    """CIDRs of managed services in the network (managed Redis) the API may reach; empty without any."""
    backup_bucket: BucketRef | None
    """Bucket for WAL-G base backups and WAL archives; None disables archiving (local clusters only)."""
    artifact_bucket: BucketRef | None
    """Bucket for MLflow artifacts; None keeps artifacts on a volume (local clusters only)."""
    identities: Mapping[str, WorkloadIdentity]
    """The workload identity for every `IdentityRequest` the platform made, by the same key."""
    key_ids: Mapping[str, pulumi.Output[str]]
    """Customer-managed key ids by purpose (`cluster`, `storage`, `redis`, ...), for outputs and audits."""
    waf_id: pulumi.Output[str] | None
    """Id of the WAF policy attached through `ingress_annotations` (None where the WAF runs in-cluster)."""
    redis: RedisEndpoint | None = None
    """Managed Redis; None means the workloads run the in-cluster StatefulSet."""
    registry: RegistryRef | None = None
    """Registry to push built images to; None means images come from the configured registry."""
    ready: Sequence[pulumi.Resource] = ()
    """Resources the workloads must wait for (node groups, the load balancer controller)."""
    extra_outputs: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Cloud-specific values worth exporting (VPC id, ...)."""

    def identity(self, key: str) -> WorkloadIdentity:
        """The identity for `key`, failing early when the Foundation did not create it."""
        if key not in self.identities:
            raise KeyError(f"the {self.cloud} Foundation returned no workload identity {key!r}")
        return self.identities[key]


class Foundation(pulumi.ComponentResource):
    """The component every resource of a target's Foundation hangs under (directly or through the target's own
    sub-components), type `maestro:<target>:Foundation`."""

    def __init__(self, target: str, name: str, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(f"maestro:{target}:Foundation", name, None, opts)


@dataclass(frozen=True)
class FoundationArgs:
    """What every Foundation is given."""

    config: MaestroConfig
    """The validated stack config; the target's own object is `config.<cloud>`."""
    ports: Ports
    """The port map."""
    identities: Mapping[str, IdentityRequest]
    """The Kubernetes service accounts that must reach a bucket, by key (`FoundationOutputs.identities` answers
    them)."""


class FoundationBuilder(Protocol):
    """What each target folder exports as `build`: the Foundation for a validated stack config."""

    def __call__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions) -> FoundationOutputs:
        """Create the `Foundation` component `name` with `opts`, everything under it, and return the contract."""
        ...


def bucket_refs(
    scheme: Literal["s3", "gs", "azure"],
    names: Mapping[BucketPurpose, pulumi.Output[str]],
    region: str,
    kms_key_id: pulumi.Output[str] | None = None,
) -> dict[BucketPurpose, BucketRef]:
    """The backup and artifact buckets of one store, by purpose (`FoundationOutputs.backup_bucket`, ...)."""
    return {p: BucketRef(scheme=scheme, name=names[p], region=region, kms_key_id=kms_key_id) for p in BUCKET_PURPOSES}


def required(target: T | None, cloud: str) -> T:
    """The stack's target object (`MaestroConfig.aws`, ...): `MaestroConfig` makes sure it is there; a config built
    by hand without it fails here, by name."""
    if target is None:
        raise ValueError(f"maestro:{cloud}: required when cloud is {cloud}")
    return target
