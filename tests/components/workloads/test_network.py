"""The NetworkPolicies express the network matrix (config/network.yaml): evaluated as a cluster would evaluate them,
every pod of the platform reaches exactly the ports of the other pods that the matrix lets its role reach, plus the
few conversations only the cluster has (`kubernetes_flows`), and a stranger's pod reaches nothing.

On Kubernetes the monitoring namespace is one destination (its pods are the chart's, Prometheus is the one that
scrapes), so every pod there counts as `monitoring` and `grafana` when reached.

The evaluator follows the NetworkPolicy semantics: a connection needs an egress rule at the source and an ingress rule
at the destination, each from some policy that selects the pod and has that direction in its policyTypes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from components.workloads.namespaces import NAMES
from components.workloads.network import API, MIGRATIONS, MLFLOW, OPERATOR, POSTGRES, REDIS, ROUTED
from config import network
from maestro.offline import mockrun
from tests.components.stacks import PORTS, by_suffix, evaluated

pytestmark = pytest.mark.stacks

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
MATRIX = network.load()


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    roles: frozenset[str] = field(default_factory=frozenset)
    """The matrix roles this pod plays (none for the cluster's own parts and for strangers)."""


PODS = (
    Pod("api", NAMES.app, API, frozenset({"api"})),
    Pod("mlflow", NAMES.app, MLFLOW, frozenset({"mlflow"})),
    Pod("redis", NAMES.app, REDIS, frozenset({"redis"})),
    Pod("postgres", NAMES.data, POSTGRES, frozenset({"postgres", "postgres_restore"})),
    Pod("prometheus", NAMES.monitoring, {"app.kubernetes.io/name": "prometheus"}, frozenset({"monitoring"})),
    Pod("grafana", NAMES.monitoring, {"app.kubernetes.io/name": "grafana"}, frozenset({"grafana"})),
    Pod("node-exporter", NAMES.node_exporter, {"app.kubernetes.io/name": "prometheus-node-exporter"}),
    Pod("migration", NAMES.app, MIGRATIONS),
    Pod("operator", NAMES.system, OPERATOR),
    # Strangers: an unlabelled pod in the platform's own namespace, and any pod of another namespace.
    Pod("stranger", NAMES.app, {"app.kubernetes.io/name": "debug"}),
    Pod("elsewhere", "default", {"app": "anything"}),
)
SERVED = {
    "api": {"api"},
    "mlflow": {"mlflow"},
    "redis": {"redis", "redis_exporter"},
    "postgres": {"postgres", "patroni_rest", "postgres_exporter"},
    "node-exporter": {"node_exporter"},
}
"""Ports each pod serves; the monitoring namespace's pods serve their charts' ports."""


def _peer_matches(peer: Mapping[str, Any], pod: Pod) -> bool:
    if "ipBlock" in peer:
        return bool(peer["ipBlock"]["cidr"] == "0.0.0.0/0")  # pods have cluster addresses, inside only this block
    namespaces = peer.get("namespaceSelector")
    if (
        namespaces is None
        or not namespaces.get("matchLabels", {}).items() <= {"kubernetes.io/metadata.name": pod.namespace}.items()
    ):
        return False
    return bool(peer.get("podSelector", {}).get("matchLabels", {}).items() <= pod.labels.items())


def _allows(policies: Iterable[Mapping[str, Any]], pod: Pod, direction: str, other: Pod, port: int) -> bool:
    """Whether the policies selecting `pod` allow `direction` ("Ingress"/"Egress") with `other` on `port`."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and p["spec"]["podSelector"].get("matchLabels", {}).items() <= pod.labels.items()
        and direction in p["spec"]["policyTypes"]
    ]
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            ports = rule.get("ports")
            if (peers is None or any(_peer_matches(peer, other) for peer in peers)) and (
                ports is None or any(p["port"] == port for p in ports)
            ):
                return True
    return not selecting


def _connects(policies: list[Mapping[str, Any]], source: Pod, dest: Pod, port: int) -> bool:
    return _allows(policies, source, "Egress", dest, port) and _allows(policies, dest, "Ingress", source, port)


def _expected(source: Pod, dest: Pod, port_name: str) -> bool:
    """What the matrix (with HAProxy's routes done by Services) and the cluster's own needs allow."""
    dest_roles = set(dest.roles)
    if dest.name == "node-exporter":
        dest_roles.add("all")
    if dest.namespace == NAMES.monitoring:  # one destination on Kubernetes (components/workloads/network.py)
        dest_roles |= {"monitoring", "grafana"}
    if source.roles and dest_roles:
        if MATRIX.allows(source.roles, dest_roles, port_name):
            return True
        for (role, via), (target, port) in ROUTED.items():
            if target in dest_roles and port == port_name and MATRIX.allows(source.roles, {role}, via):
                return True
    if dest.name == "postgres" and source.name == "migration":
        return port_name == "postgres"
    if dest.name == "postgres" and source.name == "operator":
        return port_name in ("postgres", "patroni_rest")
    # kube-prometheus-stack's parts talk among themselves on any port.
    return source.namespace == dest.namespace == NAMES.monitoring


def _policies(stack: str) -> list[Mapping[str, Any]]:
    return [mockrun.plain(r.inputs) for r in evaluated(stack).of_type(POLICY)]


@pytest.mark.parametrize("stack", ["dev-kind", "prod-aws"])
def test_every_pod_reaches_exactly_what_the_matrix_allows(stack: str) -> None:
    policies = _policies(stack)
    in_cluster_redis = any(p["metadata"]["name"] == "redis" for p in policies)
    pods = [p for p in PODS if in_cluster_redis or p.name != "redis"]
    wrong = []
    for source in pods:
        for dest in pods:
            if source == dest and source.roles - {"postgres", "redis"}:
                continue  # a pod talking to itself needs no policy
            ports = SERVED.get(dest.name, set(PORTS.model_dump()) if dest.namespace == NAMES.monitoring else set())
            for port_name in sorted(ports):
                got = _connects(policies, source, dest, PORTS.model_dump()[port_name])
                if got != _expected(source, dest, port_name):
                    wrong.append(f"{source.name} -> {dest.name}:{port_name}: {'open' if got else 'closed'}")
    assert wrong == []


@pytest.mark.parametrize("stack", ["dev-kind", "prod-aws"])
def test_mlflow_answers_only_the_api(stack: str) -> None:
    policies = _policies(stack)
    mlflow = next(p for p in PODS if p.name == "mlflow")
    callers = {p.name for p in PODS if _connects(policies, p, mlflow, PORTS.mlflow)}
    assert callers == {"api"}


def test_the_evaluator_refuses_what_no_rule_allows() -> None:
    """The check above can fail: without the API's rule, nothing reaches MLflow, and a stranger reaches nothing."""
    policies = [p for p in _policies("dev-kind") if p["metadata"]["name"] != "api"]
    api, mlflow, stranger = (next(p for p in PODS if p.name == n) for n in ("api", "mlflow", "stranger"))
    assert not _connects(policies, api, mlflow, PORTS.mlflow)
    assert not any(_connects(policies, stranger, p, port) for p in PODS for port in PORTS.model_dump().values())
    opened = [{"metadata": {"namespace": NAMES.app, "name": "x"}, "spec": {"podSelector": {}, "policyTypes": []}}]
    assert _allows(opened, stranger, "Ingress", api, PORTS.api)  # not selected by any policy: open


def test_managed_redis_is_reached_by_the_api_alone_on_its_port() -> None:
    """prod-aws runs no Redis pod: the matrix's api -> Redis (through HAProxy on hosts) is egress to ElastiCache."""
    api = mockrun.plain(by_suffix(evaluated("prod-aws").of_type(POLICY), "-maestro-api").inputs)["spec"]
    managed = [
        rule
        for rule in api["egress"]
        if any("ipBlock" in p and p != {"ipBlock": {"cidr": "0.0.0.0/0"}} for p in rule["to"])
    ]
    assert len(managed) == 1 and managed[0]["ports"] == [{"protocol": "TCP", "port": PORTS.redis}]
