"""Tagging and labels: owner, environment and cost-center on every taggable resource.

"Taggable" is decided by the type token: the lists below name the resource types the platform creates (or could
create) that accept tags/labels; a test checks every AWS token against the installed pulumi_aws schema. Any other
resource that sets a tag map at all is held to the same standard.
AWS provider `defaultTags` count: the engine sends them on the provider, not on the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .props import REQUIRED_TAGS, get, json_doc, tags_of
from .rule import Family, Res, Rule

RULES = Family("tagging")

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


def _aws_default_tags(provider_props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    default_tags = json_doc(get(provider_props, "defaultTags"))
    tags = get(default_tags, "tags")
    return tags if isinstance(tags, Mapping) else None


def _no_default_tags(provider_props: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Cloud:
    """One platform's tagging rule: the same check over that platform's tag or label map."""

    id: str
    name: str
    """As the rule's title says it; lower-cased, the platform the rule covers."""
    what: str
    """"tags" or "labels", as the platform calls them."""
    taggable: frozenset[str]
    prefix: str | None
    """Any other type under this token prefix that sets a tag map is held to the same standard (None: no other)."""
    fix: str
    docs: str
    defaults: Callable[[Mapping[str, Any]], Mapping[str, Any] | None] = _no_default_tags
    """Tags the resource's provider adds to every resource."""

    def applies(self, r: Res) -> bool:
        if r.type in self.taggable:
            return True
        return self.prefix is not None and r.type.startswith(self.prefix) and tags_of(r.type, r.props) is not None


CLOUDS = (
    Cloud(
        "MAESTRO-TAG-001",
        "AWS",
        "tags",
        AWS_TAGGABLE,
        "aws:",
        "Set tags (or the AWS provider's defaultTags) with owner, environment and cost-center.",
        "https://docs.aws.amazon.com/tag-editor/latest/userguide/best-practices-and-strats.html",
        _aws_default_tags,
    ),
    Cloud(
        "MAESTRO-TAG-002",
        "GCP",
        "labels",
        GCP_LABELABLE,
        "gcp:",
        "Set labels (userLabels on Cloud SQL settings, resourceLabels on GKE) with owner, environment and cost-center.",
        "https://cloud.google.com/resource-manager/docs/creating-managing-labels",
    ),
    Cloud(
        "MAESTRO-TAG-003",
        "Azure",
        "tags",
        AZURE_TAGGABLE,
        "azure-native:",
        "Set tags with owner, environment and cost-center.",
        "https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources",
    ),
    Cloud(
        "MAESTRO-TAG-004",
        "Kubernetes",
        "labels",
        K8S_LABELABLE,
        None,
        "Set metadata.labels owner, environment and cost-center (the platform's common labels) on namespaces, "
        "workloads, services and ingresses.",
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/",
    ),
)


def _missing(tags: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None) -> list[str]:
    have: dict[str, Any] = {}
    for source in (defaults, tags):
        if source is not None:
            have.update({str(k): source[k] for k in source})
    return [t for t in REQUIRED_TAGS if not have.get(t)]


def _tag_rule(cloud: Cloud) -> Rule:
    @RULES.resource(
        cloud.id,
        f"Every taggable {cloud.name} resource carries the owner, environment and cost-center {cloud.what}.",
        "Cost reports, incident routing and the per-environment policy levels all read these "
        f"{cloud.what}; an untagged resource has no owner to page and no budget to charge.",
        "low",
        cloud.fix,
        cloud.docs,
        types=[],
        covers=(cloud.name.lower(),),
    )
    def tagged(r: Res) -> Iterable[str]:
        if not cloud.applies(r):
            return
        missing = _missing(tags_of(r.type, r.props), cloud.defaults(r.provider_props))
        if missing:
            yield f"missing {cloud.what}: {', '.join(missing)}."

    return tagged


for _cloud in CLOUDS:
    _tag_rule(_cloud)  # kept by RULES, like every decorated rule
