"""Default-deny NetworkPolicies in every namespace, then one explicit allow per conversation.

`NetworkPolicies` covers the platform's own namespaces. The public ingress controller's namespace belongs to the
Foundation that installs the controller (components/foundations/ingress_nginx.py builds its policies from the
helpers here: `network_policy`, `dns_egress`, `ns_peer`, `tcp`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import Ports
from components.workloads.namespaces import NAMES

# Pod labels the policies select on (set by our manifests and by the charts/operator).
API = {"app.kubernetes.io/name": "maestro-api"}
MLFLOW = {"app.kubernetes.io/name": "mlflow"}
REDIS = {"app.kubernetes.io/name": "redis"}
POSTGRES = {"application": "spilo"}
MIGRATIONS = {"maestro.dev/role": "migration"}
OPERATOR = {"app.kubernetes.io/name": "postgres-operator"}
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
class NetworkArgs:
    """What the allows depend on."""

    ports: Ports
    """The port map."""
    ingress_peers: Sequence[Mapping[str, Any]]
    """Where the API's public traffic comes from (the Foundation's load balancer or ingress controller)."""
    service_cidrs: Sequence[str]
    """CIDRs of managed services (managed Redis) the API may reach; empty on plain Kubernetes."""
    managed_redis_port: int | None
    """Port of the Foundation's managed Redis (it may differ from the port map's, e.g. Memorystore's TLS port)."""
    in_cluster_redis: bool
    """Whether Redis runs in the app namespace."""
    api_internet_egress: bool
    """Whether the API may reach HTTPS on the internet (the OIDC issuer's JWKS)."""


class NetworkPolicies(pulumi.ComponentResource):
    """Deny everything by default, in both directions; allow DNS; allow each needed conversation by name."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("maestro:kubernetes:NetworkPolicies", name, None, opts)
        self.policies: list[k8s.networking.v1.NetworkPolicy] = []
        p = args.ports
        monitoring = ns_peer(NAMES.monitoring)
        dns = dns_egress()
        kube_api = {"to": ANYWHERE, "ports": tcp(*KUBE_API_PORTS)}
        otlp = {"to": [ns_peer(NAMES.monitoring, {"app.kubernetes.io/name": "jaeger"})], "ports": tcp(p.otlp_grpc)}

        for ns in (NAMES.app, NAMES.data, NAMES.system, NAMES.monitoring):
            self._policy(ns, "default-deny", {}, ingress=[], egress=[], types=["Ingress", "Egress"])
            self._policy(ns, "allow-dns", {}, egress=[dns])
        # node-exporter runs on the host network, where most CNIs do not apply NetworkPolicies; its namespace still
        # gets the same baseline, so anything else scheduled there is denied, and only Prometheus may scrape.
        self._policy(NAMES.node_exporter, "default-deny", {}, ingress=[], egress=[], types=["Ingress", "Egress"])
        self._policy(
            NAMES.node_exporter, "allow-scrape", {}, ingress=[{"from": [monitoring], "ports": tcp(p.node_exporter)}]
        )

        # API: public traffic from the ingress path, scrapes from Prometheus; out to its dependencies.
        api_egress: list[dict[str, Any]] = [
            {"to": [ns_peer(NAMES.data, POSTGRES)], "ports": tcp(p.postgres)},
            {"to": [ns_peer(NAMES.app, MLFLOW)], "ports": tcp(p.mlflow)},
            otlp,
        ]
        if args.in_cluster_redis:
            api_egress.append({"to": [ns_peer(NAMES.app, REDIS)], "ports": tcp(p.redis)})
        if args.service_cidrs and args.managed_redis_port is not None:
            api_egress.append(
                {"to": [{"ipBlock": {"cidr": c}} for c in args.service_cidrs], "ports": tcp(args.managed_redis_port)}
            )
        if args.api_internet_egress:
            api_egress.append({"to": ANYWHERE, "ports": tcp(p.https)})
        self._policy(
            NAMES.app,
            "api",
            API,
            ingress=[
                {"from": [dict(peer) for peer in args.ingress_peers], "ports": tcp(p.api)},
                {"from": [monitoring], "ports": tcp(p.api)},
            ],
            egress=api_egress,
        )
        # MLflow: only the API (and Prometheus) talk to it; it talks to Postgres and the object store (HTTPS).
        self._policy(
            NAMES.app,
            "mlflow",
            MLFLOW,
            ingress=[{"from": [ns_peer(NAMES.app, API), monitoring], "ports": tcp(p.mlflow)}],
            egress=[
                {"to": [ns_peer(NAMES.data, POSTGRES)], "ports": tcp(p.postgres)},
                {"to": ANYWHERE, "ports": tcp(p.https)},
            ],
        )
        self._policy(
            NAMES.app,
            "migrations",
            MIGRATIONS,
            egress=[{"to": [ns_peer(NAMES.data, POSTGRES)], "ports": tcp(p.postgres)}],
        )
        if args.in_cluster_redis:
            self._policy(
                NAMES.app,
                "redis",
                REDIS,
                ingress=[
                    {"from": [ns_peer(NAMES.app, API)], "ports": tcp(p.redis)},
                    {"from": [monitoring], "ports": tcp(p.redis_exporter)},
                ],
            )
        # Postgres: clients from the app namespace; members with each other (replication, Patroni);
        # the operator on Patroni's API; Prometheus on the exporter. Out: members, the API server (Patroni's
        # DCS is Kubernetes), the object store for WAL-G.
        members = ns_peer(NAMES.data, POSTGRES)
        self._policy(
            NAMES.data,
            "postgres",
            POSTGRES,
            ingress=[
                {
                    "from": [ns_peer(NAMES.app, API), ns_peer(NAMES.app, MLFLOW), ns_peer(NAMES.app, MIGRATIONS)],
                    "ports": tcp(p.postgres),
                },
                {"from": [members], "ports": tcp(p.postgres, p.patroni_rest)},
                {"from": [ns_peer(NAMES.system, OPERATOR)], "ports": tcp(p.postgres, p.patroni_rest)},
                {"from": [monitoring], "ports": tcp(p.postgres_exporter)},
            ],
            egress=[
                {"to": [members], "ports": tcp(p.postgres, p.patroni_rest)},
                kube_api,
                {"to": ANYWHERE, "ports": tcp(p.https)},
            ],
        )
        self._policy(
            NAMES.system,
            "operator",
            OPERATOR,
            egress=[kube_api, {"to": [ns_peer(NAMES.data, POSTGRES)], "ports": tcp(p.postgres, p.patroni_rest)}],
        )
        # Monitoring: its components talk among themselves, scrape every namespace and watch the API server.
        self._policy(
            NAMES.monitoring,
            "stack",
            {},
            ingress=[
                {"from": [monitoring]},
                {"from": [ns_peer(NAMES.app, API)], "ports": tcp(p.otlp_grpc, p.otlp_http)},
            ],
            egress=[{"to": [{"namespaceSelector": {}}]}, kube_api],
        )
        self.register_outputs({"count": len(self.policies)})

    def _policy(self, namespace: str, suffix: str, pods: Mapping[str, str], **rules: Any) -> None:
        """`network_policy` `f"{name}-{namespace}-{suffix}"` under this component; `rules` are its `ingress`,
        `egress` and `types`."""
        resource_name = f"{self._name}-{namespace}-{suffix}"
        opts = pulumi.ResourceOptions(parent=self)
        self.policies.append(network_policy(resource_name, namespace, suffix, pods, opts=opts, **rules))
