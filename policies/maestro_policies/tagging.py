"""Tagging and labels: owner, environment and cost-center on every taggable resource.

"Taggable" is decided by the type token: the lists below name the resource types the platform creates (or could
create) that accept tags/labels; a test checks every AWS token against the installed pulumi_aws schema. Any other
resource that sets a tag map at all is held to the same standard.
AWS provider `defaultTags` count: the engine sends them on the provider, not on the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .props import REQUIRED_TAGS, get, json_doc, tags_of
from .rule import Res, ResourceCheck, Rule, resource_rule

AWS_TAGGABLE = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/addon:Addon",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:kms/key:Key",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/listener:Listener",
        "aws:lb/targetGroup:TargetGroup",
        "aws:wafv2/webAcl:WebAcl",
        "aws:ecr/repository:Repository",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:secretsmanager/secret:Secret",
        "aws:acm/certificate:Certificate",
        "aws:backup/vault:Vault",
        "aws:backup/plan:Plan",
    }
)
GCP_LABELABLE = frozenset(
    {
        "gcp:storage/bucket:Bucket",
        "gcp:sql/databaseInstance:DatabaseInstance",
        "gcp:redis/instance:Instance",
        "gcp:container/cluster:Cluster",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:compute/globalAddress:GlobalAddress",
        "gcp:compute/address:Address",
        "gcp:compute/globalForwardingRule:GlobalForwardingRule",
        "gcp:secretmanager/secret:Secret",
    }
)
AZURE_TAGGABLE = frozenset(
    {
        "azure-native:resources:ResourceGroup",
        "azure-native:storage:StorageAccount",
        "azure-native:network:VirtualNetwork",
        "azure-native:network:NetworkSecurityGroup",
        "azure-native:network:PublicIPAddress",
        "azure-native:network:ApplicationGateway",
        "azure-native:network:WebApplicationFirewallPolicy",
        "azure-native:network:FlowLog",
        "azure-native:containerservice:ManagedCluster",
        "azure-native:dbforpostgresql:Server",
        "azure-native:cache:Redis",
        "azure-native:redis:Redis",
        "azure-native:keyvault:Vault",
        "azure-native:keyvault:Key",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:operationalinsights:Workspace",
    }
)
K8S_LABELABLE = frozenset(
    {
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:Service",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:batch/v1:CronJob",
        "kubernetes:batch/v1:Job",
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:acid.zalan.do/v1:postgresql",
    }
)
TAG_DOCS = "https://docs.aws.amazon.com/tag-editor/latest/userguide/best-practices-and-strats.html"


def _missing(tags: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None = None) -> list[str]:
    have: dict[str, Any] = {}
    for source in (defaults, tags):
        if source is not None:
            have.update({str(k): source[k] for k in source})
    return [t for t in REQUIRED_TAGS if not have.get(t)]


def _applies(r: Res, prefix: str, taggable: frozenset[str]) -> bool:
    return r.type in taggable or (r.type.startswith(prefix) and tags_of(r.type, r.props) is not None)


def _aws_default_tags(provider_props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    default_tags = json_doc(get(provider_props, "defaultTags"))
    tags = get(default_tags, "tags")
    return tags if isinstance(tags, Mapping) else None


def _tag_rule(id: str, cloud: str, what: str, fix: str, docs: str) -> Callable[[ResourceCheck], Rule]:
    return resource_rule(
        id=id,
        title=f"Every taggable {cloud} resource carries the owner, environment and cost-center {what}.",
        rationale="Cost reports, incident routing and the per-environment policy levels all read these "
        f"{what}; an untagged resource has no owner to page and no budget to charge.",
        severity="low",
        enforcement="mandatory",
        fix=fix,
        docs=docs,
        family="tagging",
        types=[],
        covers=(cloud.lower(),) if cloud != "Kubernetes" else ("kubernetes",),
    )


@_tag_rule(
    "MAESTRO-TAG-001",
    "AWS",
    "tags",
    "Set tags (or the AWS provider's defaultTags) with owner, environment and cost-center.",
    TAG_DOCS,
)
def aws_tags(r: Res) -> Iterable[str]:
    if not _applies(r, "aws:", AWS_TAGGABLE):
        return
    missing = _missing(tags_of(r.type, r.props), _aws_default_tags(r.provider_props))
    if missing:
        yield f"missing tags: {', '.join(missing)}."


@_tag_rule(
    "MAESTRO-TAG-002",
    "GCP",
    "labels",
    "Set labels (userLabels on Cloud SQL settings, resourceLabels on GKE) with owner, environment and cost-center.",
    "https://cloud.google.com/resource-manager/docs/creating-managing-labels",
)
def gcp_labels(r: Res) -> Iterable[str]:
    if not _applies(r, "gcp:", GCP_LABELABLE):
        return
    missing = _missing(tags_of(r.type, r.props))
    if missing:
        yield f"missing labels: {', '.join(missing)}."


@_tag_rule(
    "MAESTRO-TAG-003",
    "Azure",
    "tags",
    "Set tags with owner, environment and cost-center.",
    "https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources",
)
def azure_tags(r: Res) -> Iterable[str]:
    if not _applies(r, "azure-native:", AZURE_TAGGABLE):
        return
    missing = _missing(tags_of(r.type, r.props))
    if missing:
        yield f"missing tags: {', '.join(missing)}."


@_tag_rule(
    "MAESTRO-TAG-004",
    "Kubernetes",
    "labels",
    "Set metadata.labels owner, environment and cost-center (the platform's common labels) on namespaces, "
    "workloads, services and ingresses.",
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/",
)
def k8s_labels(r: Res) -> Iterable[str]:
    if r.type not in K8S_LABELABLE:
        return
    missing = _missing(tags_of(r.type, r.props))
    if missing:
        yield f"missing labels: {', '.join(missing)}."


RULES = [aws_tags, gcp_labels, azure_tags, k8s_labels]
