"""Network: no world-open ingress to data or admin ports, every ingress rule described, flow logs on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .props import as_list, get, to_int, truthy
from .rule import Family, Res

RULES = Family("network")

AWS_SG = "aws:ec2/securityGroup:SecurityGroup"
AWS_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
AWS_VPC = "aws:ec2/vpc:Vpc"
AWS_FLOW_LOG = "aws:ec2/flowLog:FlowLog"
GCP_FIREWALL = "gcp:compute/firewall:Firewall"
GCP_SUBNET = "gcp:compute/subnetwork:Subnetwork"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AZ_RULE = "azure-native:network:SecurityRule"
AZ_VNET = "azure-native:network:VirtualNetwork"
AZ_FLOW_LOG = "azure-native:network:FlowLog"

INGRESS_TYPES = [AWS_SG, AWS_SG_RULE, AWS_INGRESS_RULE, GCP_FIREWALL, AZ_NSG, AZ_RULE]

DATA_PORTS = {
    5432: "PostgreSQL",
    6432: "PgBouncer",
    6379: "Redis",
    6380: "Redis TLS",
    26379: "Redis Sentinel",
    3306: "MySQL",
    2379: "etcd",
    2380: "etcd peer",
    8008: "Patroni REST",
    9200: "Elasticsearch",
    27017: "MongoDB",
    5000: "MLflow",
}
ADMIN_PORTS = {22: "SSH", 3389: "RDP", 10250: "kubelet", 6443: "Kubernetes API"}
WORLD = frozenset({"0.0.0.0/0", "::/0", "*", "Internet", "Any", "any"})


@dataclass(frozen=True)
class Ingress:
    """One normalised ingress permission."""

    where: str
    lo: int
    hi: int
    sources: tuple[str, ...]
    description: str


def _port_range(value: object) -> tuple[int, int]:
    s = str(value)
    if s in ("*", "", "None"):
        return 0, 65535
    if "-" in s:
        a, b = s.split("-", 1)
        return to_int(a), to_int(b, 65535)
    return to_int(s), to_int(s)


def _aws_range(p: object, protocol_key: str) -> tuple[int, int]:
    if str(get(p, protocol_key, default="")) in ("-1", "all"):
        return 0, 65535
    return to_int(get(p, "fromPort")), to_int(get(p, "toPort"), to_int(get(p, "fromPort")))


def ingresses(r: Res) -> Iterator[Ingress]:
    """Every ingress permission a resource grants, on any cloud."""
    p = r.props
    if r.type == AWS_SG:
        for i, rule in enumerate(as_list(get(p, "ingress"))):
            lo, hi = _aws_range(rule, "protocol")
            src = tuple(as_list(get(rule, "cidrBlocks")) + as_list(get(rule, "ipv6CidrBlocks")))
            yield Ingress(f"ingress[{i}]", lo, hi, src, str(get(rule, "description", default="")))
    elif r.type == AWS_SG_RULE and get(p, "type") == "ingress":
        lo, hi = _aws_range(p, "protocol")
        src = tuple(as_list(get(p, "cidrBlocks")) + as_list(get(p, "ipv6CidrBlocks")))
        yield Ingress("rule", lo, hi, src, str(get(p, "description", default="")))
    elif r.type == AWS_INGRESS_RULE:
        lo, hi = _aws_range(p, "ipProtocol")
        src = tuple(x for x in (get(p, "cidrIpv4"), get(p, "cidrIpv6")) if x)
        yield Ingress("rule", lo, hi, src, str(get(p, "description", default="")))
    elif r.type == GCP_FIREWALL and get(p, "direction", default="INGRESS") == "INGRESS":
        src = tuple(as_list(get(p, "sourceRanges")))
        for i, allow in enumerate(as_list(get(p, "allows"))):
            ports = as_list(get(allow, "ports")) or ["*"]
            for port in ports:
                lo, hi = _port_range(port)
                yield Ingress(f"allows[{i}]", lo, hi, src, str(get(p, "description", default="")))
    elif r.type in (AZ_NSG, AZ_RULE):
        rules = as_list(get(p, "securityRules")) if r.type == AZ_NSG else [p]
        for i, rule in enumerate(rules):
            if get(rule, "direction") != "Inbound" or get(rule, "access") != "Allow":
                continue
            src = tuple(as_list(get(rule, "sourceAddressPrefix")) + as_list(get(rule, "sourceAddressPrefixes")))
            ranges = as_list(get(rule, "destinationPortRange")) + as_list(get(rule, "destinationPortRanges"))
            for port in ranges or ["*"]:
                lo, hi = _port_range(port)
                yield Ingress(f"securityRules[{i}]", lo, hi, src, str(get(rule, "description", default="")))


def _world_open(ports: dict[int, str], r: Res) -> Iterator[str]:
    for ing in ingresses(r):
        open_to = sorted(set(ing.sources) & WORLD)
        if not open_to:
            continue
        hit = [f"{port} ({what})" for port, what in sorted(ports.items()) if ing.lo <= port <= ing.hi]
        if hit:
            yield f"{ing.where} opens {', '.join(hit)} to {', '.join(open_to)}."


@RULES.resource(
    "MAESTRO-NET-001",
    "No ingress from 0.0.0.0/0 to data ports.",
    "Postgres, Redis, etcd and MLflow are internal services; only the WAF-fronted entry point faces the internet.",
    "critical",
    "Restrict the source to the VPC/cluster CIDR or a security group reference.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/vpc/securitygroupingressrule/",
    types=INGRESS_TYPES,
)
def no_world_data_ports(r: Res) -> Iterable[str]:
    yield from _world_open(DATA_PORTS, r)


@RULES.resource(
    "MAESTRO-NET-002",
    "No ingress from 0.0.0.0/0 to administrative ports.",
    "SSH, RDP, kubelet and the Kubernetes API are the first ports scanned on any public address.",
    "high",
    "Reach hosts through SSM/IAP/Bastion and restrict the Kubernetes API to known CIDRs or a private endpoint.",
    "https://cloud.google.com/firewall/docs/firewalls",
    types=INGRESS_TYPES,
)
def no_world_admin_ports(r: Res) -> Iterable[str]:
    yield from _world_open(ADMIN_PORTS, r)


@RULES.resource(
    "MAESTRO-NET-003",
    "Every ingress rule says why it exists.",
    "Undescribed rules are never removed, because nobody knows whether they are still needed.",
    "low",
    "Set description on each ingress rule (AWS), firewall (GCP) or security rule (Azure).",
    "https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/",
    enforcement="advisory",
    types=INGRESS_TYPES,
)
def ingress_described(r: Res) -> Iterable[str]:
    seen = set()
    for ing in ingresses(r):
        if not ing.description.strip() and ing.where not in seen:
            seen.add(ing.where)
            yield f"{ing.where} has no description."


@RULES.stack(
    "MAESTRO-NET-004",
    "Networks have flow logs.",
    "Flow logs are the only record of who talked to what when investigating an incident.",
    "medium",
    "AWS: an aws.ec2.FlowLog for each VPC (vpcId, named '<vpc>-flow-logs'); GCP: logConfig on each "
    "subnetwork; Azure: a network FlowLog for each virtual network.",
    "https://www.pulumi.com/registry/packages/aws/api-docs/ec2/flowlog/",
    covers=("aws", "gcp", "azure"),
)
def flow_logs(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    aws_logs = [r for r in resources if r.type == AWS_FLOW_LOG]
    az_logs = [r for r in resources if r.type == AZ_FLOW_LOG]
    for r in resources:
        if r.type == AWS_VPC:
            ok = any(
                (get(f.props, "vpcId") and get(f.props, "vpcId") == get(r.props, "id"))
                or f.name.startswith(f"{r.name}-")
                for f in aws_logs
            )
            if not ok:
                yield r.urn, f"VPC {r.name} has no flow log."
        elif r.type == GCP_SUBNET and get(r.props, "logConfig") is None:
            yield r.urn, f"subnetwork {r.name} has no logConfig."
        elif r.type == AZ_VNET and not any(f.name.startswith(f"{r.name}-") for f in az_logs):
            yield r.urn, f"virtual network {r.name} has no flow log."


@RULES.resource(
    "MAESTRO-NET-005",
    "GCP firewall rules log their matches.",
    "Firewall logging shows which rules are hit and which never are; it is how rules get pruned.",
    "low",
    "Set logConfig.metadata ('INCLUDE_ALL_METADATA' or 'EXCLUDE_ALL_METADATA') on the firewall.",
    "https://www.pulumi.com/registry/packages/gcp/api-docs/compute/firewall/",
    enforcement="advisory",
    types=[GCP_FIREWALL],
)
def gcp_firewall_logging(r: Res) -> Iterable[str]:
    if not get(r.props, "logConfig", "metadata") and not truthy(get(r.props, "enableLogging")):
        yield "logConfig is not set."
