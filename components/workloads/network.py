"""Default-deny NetworkPolicies in every namespace, then one explicit allow per conversation.

`NetworkPolicies` covers the platform's own namespaces. The public ingress controller's namespace belongs to the
Foundation that installs the controller (components/foundations/ingress_nginx.py builds its policies from the
helpers here: `network_policy`, `dns_egress`, `ns_peer`, `tcp`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import Ports
from components.workloads.namespaces import NAMES
from config.network import EVERY_HOST, Matrix

# Pod labels the policies select on (set by our manifests and by the charts/operator).
API = {"app.kubernetes.io/name": "maestro-api"}
MLFLOW = {"app.kubernetes.io/name": "mlflow"}
REDIS = {"app.kubernetes.io/name": "redis"}
POSTGRES = {"application": "spilo"}
MIGRATIONS = {"maestro.dev/role": "migration"}
OPERATOR = {"app.kubernetes.io/name": "postgres-operator"}
PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}
GRAFANA = {"app.kubernetes.io/name": "grafana"}
ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
# The Kubernetes API server's address is not a pod; 443 (managed clusters) and 6443 (kind, kubeadm).
KUBE_API_PORTS = (443, 6443)


def ns_peer(namespace: str, pods: Mapping[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def dns_egress() -> dict[str, Any]:
    """Cluster DNS (kube-dns / CoreDNS in kube-system), UDP and TCP."""
    return {
        "to": [ns_peer("kube-system", {"k8s-app": "kube-dns"})],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def network_policy(
    resource_name: str,
    namespace: str,
    suffix: str,
    pods: Mapping[str, str],
    *,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
    types: list[str] | None = None,
    labels: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """One NetworkPolicy named `suffix` in `namespace`, selecting `pods` (all pods when empty).

    `policyTypes` is `types`, or else every direction given (an empty list denies that direction)."""
    spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(pods)} if pods else {}}
    spec["policyTypes"] = types or [t for t, rules in (("Ingress", ingress), ("Egress", egress)) if rules is not None]
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    metadata: dict[str, Any] = {"name": suffix, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return k8s.networking.v1.NetworkPolicy(resource_name, metadata=metadata, spec=spec, opts=opts)


@dataclass(frozen=True)
class Place:
    """Where a role of the network matrix runs in the cluster: pods in a namespace, or addresses outside it."""

    namespace: str = ""
    """Namespace of the pods (empty for an external place)."""
    pods: Mapping[str, str] = field(default_factory=dict)
    """Pod labels; empty means every pod of the namespace."""
    cidrs: tuple[str, ...] = ()
    """An external place's addresses (managed services), reached by egress only."""
    port: int | None = None
    """The port the external place serves instead of the port map's (e.g. Memorystore's TLS port)."""

    def peers(self) -> list[dict[str, Any]]:
        if self.cidrs:
            return [{"ipBlock": {"cidr": c}} for c in self.cidrs]
        return [ns_peer(self.namespace, self.pods or None)]


# Where the matrix's roles run on Kubernetes. Roles without pods here have another form: HAProxy's routing is done by
# Services (ROUTED), etcd's job by the API server (Patroni's DCS on Kubernetes), `edge` is the Foundation's ingress
# path, and `public`/`operators` arrive through the ingress or the API server (port-forward, under its RBAC).
PLACES: Mapping[str, Place] = {
    "api": Place(NAMES.app, API),
    "mlflow": Place(NAMES.app, MLFLOW),
    "postgres": Place(NAMES.data, POSTGRES),
    "postgres_restore": Place(NAMES.data, POSTGRES),
    "redis": Place(NAMES.app, REDIS),
    # As a destination the monitoring namespace is one place: its policy admits the matrix's flows to Prometheus,
    # Alertmanager and the OTLP collector (Jaeger) alike.
    "monitoring": Place(NAMES.monitoring),
    "grafana": Place(NAMES.monitoring),
}
# As a source, a role in the monitoring namespace is its own pods: Prometheus scrapes, Grafana queries.
SOURCES: Mapping[str, Place] = {
    "monitoring": Place(NAMES.monitoring, PROMETHEUS),
    "grafana": Place(NAMES.monitoring, GRAFANA),
}
# A host role that only routes: its clients reach the routed role's port directly through a Service.
ROUTED: Mapping[tuple[str, str], tuple[str, str]] = {
    ("haproxy", "haproxy_primary"): ("postgres", "postgres"),
    ("haproxy", "haproxy_redis"): ("redis", "redis"),
}
# `to: all` flows: the one place serving that port on Kubernetes (node-exporter runs in its own namespace).
EVERY_HOST_PORTS: Mapping[str, Place] = {"node_exporter": Place(NAMES.node_exporter)}


@dataclass(frozen=True)
class KubeFlow:
    """One allowed conversation in the cluster: `sources` may reach `port` of `to`."""

    to: Place
    port: int | None
    """None: every port."""
    sources: tuple[Place | Mapping[str, Any], ...]
    """Places, or raw NetworkPolicy peers (the Foundation's ingress peers)."""
    why: str


def _peers(sources: Sequence[Place | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [peer for s in sources for peer in (s.peers() if isinstance(s, Place) else [dict(s)])]


@dataclass(frozen=True)
class NetworkArgs:
    """What the allows depend on."""

    ports: Ports
    """The port map."""
    matrix: Matrix
    """The network matrix (config/network.yaml): which role may reach which port of which role."""
    ingress_peers: Sequence[Mapping[str, Any]]
    """Where the API's public traffic comes from (the Foundation's load balancer or ingress controller): the
    matrix's `edge`."""
    service_cidrs: Sequence[str]
    """CIDRs of managed services (managed Redis) the API may reach; empty on plain Kubernetes."""
    managed_redis_port: int | None
    """Port of the Foundation's managed Redis (it may differ from the port map's, e.g. Memorystore's TLS port)."""
    in_cluster_redis: bool
    """Whether Redis runs in the app namespace."""
    api_internet_egress: bool
    """Whether the API may reach HTTPS on the internet (the OIDC issuer's JWKS)."""

    def places(self) -> dict[str, Place]:
        """PLACES for this cluster: Redis is in the app namespace or the Foundation's managed service."""
        places = dict(PLACES)
        if not self.in_cluster_redis:
            del places["redis"]
            if self.service_cidrs and self.managed_redis_port is not None:
                places["redis"] = Place(cidrs=tuple(self.service_cidrs), port=self.managed_redis_port)
        return places


def matrix_flows(args: NetworkArgs) -> list[KubeFlow]:
    """The matrix's flows as they exist in this cluster (roles without a place here drop out)."""
    places, ports = args.places(), args.ports.model_dump()
    sources_at = {**places, **SOURCES}
    flows: list[KubeFlow] = []
    for flow in args.matrix.flows:
        to, port = ROUTED.get((flow.to, flow.port), (flow.to, flow.port))
        dest = EVERY_HOST_PORTS.get(port) if to == EVERY_HOST else places.get(to)
        sources: list[Place | Mapping[str, Any]] = []
        for source in flow.sources:
            if source == "edge":
                sources.extend(args.ingress_peers)
            elif source in sources_at:
                sources.append(sources_at[source])
        if dest is not None and sources:
            flows.append(KubeFlow(dest, dest.port or ports[port], tuple(sources), flow.why))
    return flows


def kubernetes_flows(args: NetworkArgs) -> list[KubeFlow]:
    """Conversations only the Kubernetes platform has (they are no host's role): each with why it is needed."""
    p = args.ports
    postgres, migrations = Place(NAMES.data, POSTGRES), Place(NAMES.app, MIGRATIONS)
    operator, monitoring = Place(NAMES.system, OPERATOR), Place(NAMES.monitoring)  # the whole namespace
    return [
        KubeFlow(postgres, p.postgres, (migrations,), "The schema migration Jobs (Alembic, mlflow db upgrade)."),
        KubeFlow(postgres, p.postgres, (operator,), "postgres-operator creates roles and databases."),
        KubeFlow(postgres, p.patroni_rest, (operator,), "postgres-operator reads and drives Patroni."),
        KubeFlow(
            monitoring,
            None,
            (monitoring,),
            "kube-prometheus-stack's parts (operator, Prometheus, Alertmanager, Grafana, kube-state-metrics) and "
            "Jaeger talk among themselves on the charts' own ports.",
        ),
    ]


class NetworkPolicies(pulumi.ComponentResource):
    """Deny everything by default, in both directions; allow DNS; then exactly the matrix's conversations (plus the
    few the cluster itself needs, `kubernetes_flows`): an ingress rule at every destination and the matching egress
    rule at every source."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:NetworkPolicies", name, None, opts)
        self.policies: list[k8s.networking.v1.NetworkPolicy] = []
        p = args.ports
        dns = dns_egress()
        kube_api = {"to": ANYWHERE, "ports": tcp(*KUBE_API_PORTS)}
        https_out = {"to": ANYWHERE, "ports": tcp(p.https)}
        flows = matrix_flows(args) + kubernetes_flows(args)

        for ns in (NAMES.app, NAMES.data, NAMES.system, NAMES.monitoring):
            self._policy(ns, "default-deny", {}, ingress=[], egress=[], types=["Ingress", "Egress"])
            self._policy(ns, "allow-dns", {}, egress=[dns])
        # node-exporter runs on the host network, where most CNIs do not apply NetworkPolicies; its namespace still
        # gets the same baseline, so anything else scheduled there is denied, and only Prometheus may scrape.
        node_exporter = EVERY_HOST_PORTS["node_exporter"]
        self._policy(NAMES.node_exporter, "default-deny", {}, ingress=[], egress=[], types=["Ingress", "Egress"])
        self._policy(NAMES.node_exporter, "allow-scrape", {}, ingress=_ingress(flows, node_exporter))

        api, mlflow = PLACES["api"], PLACES["mlflow"]
        api_egress = _egress(flows, api)
        if args.api_internet_egress:
            api_egress.append(https_out)  # the OIDC issuer's JWKS
        self._policy(NAMES.app, "api", API, ingress=_ingress(flows, api), egress=api_egress)
        # MLflow writes artifacts to the object store over HTTPS.
        self._policy(
            NAMES.app, "mlflow", MLFLOW, ingress=_ingress(flows, mlflow), egress=[*_egress(flows, mlflow), https_out]
        )
        self._policy(NAMES.app, "migrations", MIGRATIONS, egress=_egress(flows, Place(NAMES.app, MIGRATIONS)))
        if args.in_cluster_redis:
            redis = PLACES["redis"]
            self._policy(NAMES.app, "redis", REDIS, ingress=_ingress(flows, redis), egress=_egress(flows, redis))
        # Postgres also reaches the API server (Patroni's DCS on Kubernetes) and the object store (WAL-G).
        postgres = PLACES["postgres"]
        self._policy(
            NAMES.data,
            "postgres",
            POSTGRES,
            ingress=_ingress(flows, postgres),
            egress=[*_egress(flows, postgres), kube_api, https_out],
        )
        operator = Place(NAMES.system, OPERATOR)
        self._policy(NAMES.system, "operator", OPERATOR, egress=[kube_api, *_egress(flows, operator)])
        # Prometheus scrapes every namespace and the nodes' kubelets (the destinations' ingress rules decide what it
        # may reach) and watches the API server.
        self._policy(
            NAMES.monitoring,
            "stack",
            {},
            ingress=_ingress(flows, PLACES["monitoring"]),
            egress=[{"to": [{"namespaceSelector": {}}]}, kube_api],
        )
        self.register_outputs({"count": len(self.policies)})

    def _policy(self, namespace: str, suffix: str, pods: Mapping[str, str], **rules: Any) -> None:
        """`network_policy` `f"{name}-{namespace}-{suffix}"` under this component; `rules` are its `ingress`,
        `egress` and `types`."""
        resource_name = f"{self._name}-{namespace}-{suffix}"
        opts = pulumi.ResourceOptions(parent=self)
        self.policies.append(network_policy(resource_name, namespace, suffix, pods, opts=opts, **rules))


def _ingress(flows: Sequence[KubeFlow], place: Place) -> list[dict[str, Any]]:
    """The ingress rules of `place`: one per destination port, from every source the flows name for it."""
    by_port: dict[int | None, list[Place | Mapping[str, Any]]] = {}
    for flow in flows:
        if flow.to == place:
            known = by_port.setdefault(flow.port, [])
            known.extend(s for s in flow.sources if s not in known)
    return [_rule("from", _peers(sources), port) for port, sources in by_port.items()]


def _egress(flows: Sequence[KubeFlow], place: Place) -> list[dict[str, Any]]:
    """The egress rules of `place`: one per destination and port it is a source of."""
    return [_rule("to", flow.to.peers(), flow.port) for flow in flows if place in flow.sources]


def _rule(direction: str, peers: list[dict[str, Any]], port: int | None) -> dict[str, Any]:
    return {direction: peers, "ports": tcp(port)} if port is not None else {direction: peers}
