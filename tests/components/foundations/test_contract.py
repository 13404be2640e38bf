"""Every Foundation (plain Kubernetes, AWS, GCP, Azure) hands the workloads the same contract: a
`FoundationOutputs` whose every field has the documented shape, so the workloads run unchanged on each."""

from __future__ import annotations

import ipaddress
import textwrap
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.foundations.contract import BucketRef, FoundationOutputs, RedisEndpoint, WorkloadIdentity
from components.platform import IDENTITIES
from maestro.offline import mockrun

pytestmark = pytest.mark.stacks

# One stack per Foundation; the cloud each must report, and the bucket URL scheme its buckets use.
STACKS = {
    "dev-kind": ("kubernetes", None),
    "dev-aws": ("aws", "s3"),
    "dev-gcp": ("gcp", "gs"),
    "dev-azure": ("azure", "azure"),
}
CAPTURED: dict[str, FoundationOutputs] = {}

# Builds only the Foundation, exactly as MaestroPlatform does (same config path as __main__.py), and keeps the
# Python object for the assertions below.
PROGRAM = textwrap.dedent(
    """
    import json
    import pulumi
    from components.config import TOP_LEVEL_KEYS, load_config
    from tests.components.stacks import PORTS
    from components.foundations.contract import FoundationArgs
    from components.foundations.table import FOUNDATIONS
    from components.platform import IDENTITIES
    from tests.components.foundations import test_contract as sink

    config = pulumi.Config("maestro")
    raw = {}
    for key in TOP_LEVEL_KEYS:
        value = config.get(key)
        if value is not None:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raw[key] = value
    settings = load_config(raw, region=pulumi.Config("aws").get("region"))
    holder = pulumi.ComponentResource("maestro:test:Holder", "holder")
    outputs = FOUNDATIONS[settings.cloud](
        f"maestro-{settings.cloud}",
        FoundationArgs(config=settings, ports=PORTS, identities=IDENTITIES),
        pulumi.ResourceOptions(parent=holder),
    )
    sink.CAPTURED[pulumi.get_stack()] = outputs
    pulumi.export("clusterName", outputs.cluster_name)
    pulumi.export("annotations", {k: dict(v.annotations) for k, v in outputs.identities.items()})
    pulumi.export("keyIds", dict(outputs.key_ids))
    pulumi.export("wafId", outputs.waf_id)
    pulumi.export("buckets", [b.url for b in (outputs.backup_bucket, outputs.artifact_bucket) if b is not None])
    """
)


@pytest.fixture(scope="module")
def contracts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[FoundationOutputs, dict[str, Any]]]:
    program = tmp_path_factory.mktemp("contract") / "__main__.py"
    program.write_text(PROGRAM)
    result = {}
    for stack in STACKS:
        config, secrets = mockrun.load_stack_config(mockrun.stack_file_for(stack))
        recorded = mockrun.evaluate_config(stack, config, secret_keys=secrets, program=Path(program))
        result[stack] = (CAPTURED[stack], mockrun.plain(recorded.outputs))
    return result


def test_every_foundation_returns_the_same_output_contract(
    contracts: dict[str, tuple[FoundationOutputs, dict[str, Any]]],
) -> None:
    assert set(contracts) == set(STACKS)
    expected_fields = {f.name for f in fields(FoundationOutputs)}
    for stack, (out, resolved) in contracts.items():
        cloud, scheme = STACKS[stack]
        assert type(out) is FoundationOutputs and {f.name for f in fields(out)} == expected_fields, stack
        assert out.cloud == cloud, stack
        assert isinstance(out.k8s_provider, pulumi.ProviderResource), stack
        assert isinstance(out.cluster_name, pulumi.Output) and isinstance(out.kubeconfig, pulumi.Output), stack
        assert isinstance(resolved.get("clusterName"), str) and resolved["clusterName"], stack
        assert isinstance(out.storage_class, str) and out.storage_class, stack
        assert isinstance(out.ingress_class, str) and out.ingress_class, stack
        assert isinstance(out.ingress_annotations, Mapping), stack
        assert all(isinstance(k, str) for k in out.ingress_annotations), stack
        # Each NetworkPolicy peer is exactly one selector kind the workloads understand.
        for peer in out.ingress_peers:
            assert len(peer) == 1 and next(iter(peer)) in ("namespaceSelector", "ipBlock"), (stack, peer)
        for cidr in out.service_cidrs:
            ipaddress.ip_network(cidr)
        assert all(isinstance(r, pulumi.Resource) for r in out.ready) and out.ready, stack
        assert isinstance(out.extra_outputs, Mapping), stack
        assert all(isinstance(v, pulumi.Output) for v in out.key_ids.values()), stack
        assert (out.registry is None) or out.cloud == "aws", stack  # only AWS pushes images from the program
        if cloud == "kubernetes":
            # The plain-Kubernetes Foundation has no object store, managed Redis or cloud WAF by design.
            assert out.backup_bucket is None and out.artifact_bucket is None and not out.identities, stack
            assert out.redis is None and out.waf_id is None, stack
            continue
        for bucket in (out.backup_bucket, out.artifact_bucket):
            assert isinstance(bucket, BucketRef) and bucket.scheme == scheme, stack
        assert all(url.startswith(f"{scheme}://") for url in resolved["buckets"]) and len(resolved["buckets"]) == 2
        # Every identity the platform asked for, for the same Kubernetes service account, with its annotation.
        assert set(out.identities) == set(IDENTITIES), stack
        for key, identity in out.identities.items():
            assert isinstance(identity, WorkloadIdentity), (stack, key)
            request = IDENTITIES[key]
            assert (identity.namespace, identity.service_account) == (request.namespace, request.service_account)
            assert resolved["annotations"][key] and all(resolved["annotations"][key].values()), (stack, key)
        assert isinstance(out.redis, RedisEndpoint) and out.redis.tls is True and isinstance(out.redis.port, int)
        assert isinstance(out.waf_id, pulumi.Output) and resolved["wafId"], stack
        assert out.key_ids and all(resolved["keyIds"].values()), stack


def test_the_clouds_differ_only_in_values_not_in_shape(
    contracts: dict[str, tuple[FoundationOutputs, dict[str, Any]]],
) -> None:
    clouds = {stack: out for stack, (out, _) in contracts.items() if out.cloud != "kubernetes"}
    assert len(clouds) == 3
    shapes = {
        stack: (
            tuple(sorted(out.identities)),
            out.backup_bucket is not None,
            out.artifact_bucket is not None,
            out.redis is not None,
            out.waf_id is not None,
            bool(out.ingress_peers),
        )
        for stack, out in clouds.items()
    }
    assert len(set(shapes.values())) == 1, shapes
