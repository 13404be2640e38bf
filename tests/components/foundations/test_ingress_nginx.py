"""The ingress controller's namespace policies (`components.workloads.network.ingress_controller_policies`).

Each case evaluates a small program under mocks that creates the controller's namespace and, or not, the policies,
then judges it with the policy pack as the engine would. The GCP Foundation's own policies are the reference the
shared builder must reproduce exactly, so a Foundation can switch to it without any change on the cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.foundations.gcp.edge import GFE_RANGES
from components.foundations.ingress_nginx import INGRESS_CONTROLLER_POD, INGRESS_WEBHOOK_PORT, IngressControllerFlows
from components.workloads.namespaces import NAMES
from components.workloads.network import ANYWHERE, API
from maestro.offline import mockrun, policycheck
from tests.components.stacks import PORTS, evaluated

pytestmark = pytest.mark.stacks

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS_NAMESPACE = "ingress-nginx"

# The program under test: the controller's namespace, then the policies when `flows` is given.
PROGRAM = """
import json

import pulumi
import pulumi_kubernetes as k8s

from components.foundations.ingress_nginx import IngressControllerFlows, ingress_controller_policies

params = json.loads({params!r})
namespace = k8s.core.v1.Namespace("fixture-namespace", metadata={{"name": params["namespace"]}})
if params["flows"] is not None:
    ingress_controller_policies(
        "fixture-ingress",
        IngressControllerFlows(**params["flows"]),
        opts=pulumi.ResourceOptions(depends_on=[namespace]),
        labels=params["labels"],
    )
"""


def _kind_flows() -> dict[str, Any]:
    """What the plain-Kubernetes (kind) controller needs: the world on HTTP/HTTPS, the API server wherever it is."""
    return {
        "namespace": INGRESS_NAMESPACE,
        "public_from": ANYWHERE,
        "public_ports": [PORTS.http, PORTS.https],
        "api_port": PORTS.api,
        "kube_api": ANYWHERE,
        "webhook_from": ANYWHERE,
    }


def _evaluate(tmp_path: Path, flows: dict[str, Any] | None, labels: dict[str, str] | None = None) -> Any:
    program = tmp_path / "__main__.py"
    params = json.dumps({"namespace": INGRESS_NAMESPACE, "flows": flows, "labels": labels})
    program.write_text(PROGRAM.format(params=params))
    return mockrun.evaluate_config("dev-fixture", {}, program=program)


def _policies(resources: Any) -> dict[str, dict[str, Any]]:
    return {
        mockrun.plain(r.inputs)["metadata"]["name"]: mockrun.plain(r.inputs)
        for r in resources
        if r.type == NETWORK_POLICY and r.inputs["metadata"]["namespace"] == INGRESS_NAMESPACE
    }


def _stk001(resources: Any) -> list[str]:
    found = policycheck.run_pack(policycheck.inprocess_analyzer(None), "dev-fixture", list(resources), "dev")
    return [f.message.split(" Fix:")[0] for f in found if f.rule == "MAESTRO-STK-001"]


def test_without_the_policies_the_pack_flags_the_controllers_namespace(tmp_path: Path) -> None:
    resources = _evaluate(tmp_path, None)
    assert not _policies(resources)
    assert _stk001(resources) == [f"namespace {INGRESS_NAMESPACE} has no default-deny ingress NetworkPolicy."]


def test_kind_flows_deny_by_default_and_allow_only_the_controllers_conversations(tmp_path: Path) -> None:
    resources = _evaluate(tmp_path, _kind_flows())
    assert _stk001(resources) == []
    policies = _policies(resources)
    assert set(policies) == {"default-deny", "allow-dns", "allow-kube-api", "controller"}
    assert {r.name for r in resources if r.type == NETWORK_POLICY} == {f"fixture-ingress-{n}" for n in policies}
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [],
    }
    dns = policies["allow-dns"]["spec"]
    assert dns["policyTypes"] == ["Egress"] and "ingress" not in dns
    assert dns["egress"] == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]
    kube_api = policies["allow-kube-api"]["spec"]
    assert kube_api["policyTypes"] == ["Egress"] and "ingress" not in kube_api
    assert kube_api["egress"] == [
        {"to": ANYWHERE, "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
    ]
    controller = policies["controller"]["spec"]
    assert controller["podSelector"] == {"matchLabels": INGRESS_CONTROLLER_POD}
    assert controller["policyTypes"] == ["Ingress", "Egress"]
    assert controller["ingress"] == [
        {
            "from": ANYWHERE,
            "ports": [{"protocol": "TCP", "port": PORTS.http}, {"protocol": "TCP", "port": PORTS.https}],
        },
        {"from": ANYWHERE, "ports": [{"protocol": "TCP", "port": INGRESS_WEBHOOK_PORT}]},
    ]
    # Out: only the API's pods on the API's port (no other namespace, no other pod, no other port).
    assert controller["egress"] == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMES.app}},
                    "podSelector": {"matchLabels": API},
                }
            ],
            "ports": [{"protocol": "TCP", "port": PORTS.api}],
        }
    ]
    assert all("labels" not in p["metadata"] for p in policies.values())


def test_without_webhook_peers_the_webhook_port_stays_closed(tmp_path: Path) -> None:
    flows = {**_kind_flows(), "webhook_from": []}
    controller = _policies(_evaluate(tmp_path, flows))["controller"]["spec"]
    assert controller["ingress"] == [
        {"from": ANYWHERE, "ports": [{"protocol": "TCP", "port": PORTS.http}, {"protocol": "TCP", "port": PORTS.https}]}
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"namespace": ""}, "namespace must not be empty"),
        ({"public_from": []}, "public_from and public_ports must be given"),
        ({"public_ports": []}, "public_from and public_ports must be given"),
        ({"kube_api": []}, "kube_api and kube_api_ports must be given"),
        ({"controller_pods": {}}, "controller_pods must select the controller"),
    ],
)
def test_flows_that_would_open_or_close_everything_are_refused(change: dict[str, Any], message: str) -> None:
    IngressControllerFlows(**_kind_flows())  # the unchanged flows are accepted
    with pytest.raises(ValueError, match=message):
        IngressControllerFlows(**{**_kind_flows(), **change})


def test_the_builder_reproduces_the_gcp_foundations_policies(tmp_path: Path) -> None:
    """Given GCP's peers and ports, the shared builder yields exactly the GCP Foundation's four policies (names,
    labels, specs), so the GCP Foundation can call it instead of keeping its own copy."""
    gcp = evaluated("prod-gcp")
    reference = _policies(gcp)
    assert set(reference) == {"default-deny", "allow-dns", "allow-kube-api", "controller"}
    cluster = next(r for r in gcp if r.type == "gcp:container/cluster:Cluster")
    master = [{"ipBlock": {"cidr": cluster.inputs["privateClusterConfig"]["masterIpv4CidrBlock"]}}]
    labels = reference["default-deny"]["metadata"]["labels"]
    flows = {
        "namespace": INGRESS_NAMESPACE,
        "public_from": [{"ipBlock": {"cidr": c}} for c in GFE_RANGES],
        "public_ports": [PORTS.http],
        "api_port": PORTS.api,
        "kube_api": master,
        "kube_api_ports": [443],
        "webhook_from": master,
        "webhook_port": INGRESS_WEBHOOK_PORT,
    }
    assert _policies(_evaluate(tmp_path, flows, labels)) == reference


def test_dev_kind_denies_by_default_in_the_ingress_controllers_namespace() -> None:
    """The plain-Kubernetes Foundation builds the kind flows above for its controller, and the chart's webhook
    listens on the port the policy opens."""
    resources = evaluated("dev-kind")
    policies = _policies(resources)
    assert set(policies) == {"default-deny", "allow-dns", "allow-kube-api", "controller"}
    assert {r.name for r in resources if r.type == NETWORK_POLICY and r.name.startswith("maestro-kubernetes-")} == {
        f"maestro-kubernetes-ingress-{n}" for n in policies
    }
    assert policies["default-deny"]["spec"]["podSelector"] == {} and policies["default-deny"]["spec"]["ingress"] == []
    assert policies["controller"]["spec"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": PORTS.http},
        {"protocol": "TCP", "port": PORTS.https},
    ]
    release = next(r for r in resources if r.name.endswith("-ingress-nginx"))
    assert release.inputs["values"]["controller"]["admissionWebhooks"]["port"] == INGRESS_WEBHOOK_PORT
    assert _stk001(resources) == []
