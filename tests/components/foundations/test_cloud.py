"""What the GCP and Azure Foundations do alike (components/foundations/cloud.py), one test body run for both clouds.
Cloud-specific behaviour: tests/components/foundations/gcp/ and azure/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.config import load_config
from components.foundations.cloud import foundation_args
from components.foundations.contract import FoundationArgs, IdentityRequest
from components.platform import IDENTITIES
from maestro.offline import mockrun
from tests.components.clouds import BY_CLOUD, STACKS, Cloud, raw_config
from tests.components.stacks import PORTS, evaluated

pytestmark = pytest.mark.stacks

FOUNDATIONS = ("maestro:aws:Foundation", "maestro:gcp:Foundation", "maestro:azure:Foundation")


def _inputs(r: mockrun.RecordedResource) -> dict[str, Any]:
    return dict(mockrun.plain(r.inputs))


# --- Foundation args ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_foundation_args_come_from_the_stack_config(cloud: Cloud) -> None:
    config = load_config(raw_config(f"prod-{cloud.name}"))
    args = foundation_args(cloud.args_type, cloud.name, FoundationArgs(config, PORTS, IDENTITIES))
    assert isinstance(args, cloud.args_type)
    assert args.config is getattr(config, cloud.name)
    assert (args.environment, args.deletion_protection) == ("prod", True)
    assert args.postgres is config.postgres and args.waf is config.waf and args.identities is IDENTITIES
    assert args.managed_tags == {**config.common_tags, "managed-by": "pulumi"}
    # A config that lost its cloud object (load_config refuses that; a hand-built one may not) fails by name.
    with pytest.raises(ValueError, match=rf"^maestro:{cloud.name}: required when cloud is {cloud.name}$"):
        lost = FoundationArgs(config.model_copy(update={cloud.name: None}), PORTS, IDENTITIES)
        foundation_args(cloud.args_type, cloud.name, lost)


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_foundation_args_refuse_an_identity_for_an_unknown_bucket(cloud: Cloud) -> None:
    config = load_config(raw_config(f"dev-{cloud.name}"))
    ports = PORTS
    wrong = {**IDENTITIES, "logs": IdentityRequest("maestro", "logs", "logs")}
    with pytest.raises(ValueError, match=r"^identities: unknown bucket purpose 'logs'$"):
        foundation_args(cloud.args_type, cloud.name, FoundationArgs(config, ports, wrong))
    right = foundation_args(cloud.args_type, cloud.name, FoundationArgs(config, ports, IDENTITIES))
    assert {r.bucket for r in right.identities.values()} == {"backup", "artifact"}


# --- the whole program ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cloud", "stack"), STACKS)
def test_the_whole_program_evaluates_with_the_clouds_foundation(cloud: Cloud, stack: str) -> None:
    resources = evaluated(stack)
    mine = f"maestro:{cloud.name}:Foundation"
    foundations = resources.of_type(mine)
    assert len(foundations) == 1
    assert not [r for t in FOUNDATIONS if t != mine for r in resources.of_type(t)]
    assert not resources.of_type("maestro:kubernetes:Foundation")
    # Every workload resource uses the provider the Foundation built for its cluster.
    provider = next(r for r in resources if r.type == "pulumi:providers:kubernetes" and r.parent == foundations[0].urn)
    deployments = resources.of_type("kubernetes:apps/v1:Deployment")
    assert deployments and all(d.provider.startswith(provider.urn) for d in deployments)
    outputs = resources.outputs
    assert mockrun.is_secret(outputs["kubeconfig"])
    for purpose in ("backup", "artifact"):
        value = outputs[f"{purpose}Bucket"]
        assert re.fullmatch(cloud.bucket_output.format(purpose=purpose), value), (purpose, value)
    (waf,) = resources.of_type(cloud.waf_type)
    assert outputs["wafId"] == waf.id


@pytest.mark.parametrize(("cloud", "stack"), STACKS)
def test_the_api_reaches_managed_redis_over_tls_on_its_port(cloud: Cloud, stack: str) -> None:
    resources = evaluated(stack)
    secrets = [_inputs(s) for s in resources.of_type("kubernetes:core/v1:Secret")]
    urls = [v for s in secrets for k, v in (s.get("stringData") or {}).items() if k == "MAESTRO_REDIS_URL"]
    assert urls and all(u.startswith("rediss://") and f":{cloud.redis_port}/" in u for u in urls)
    # ...and its NetworkPolicy lets it out to that port.
    egress = [
        rule
        for r in resources.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        for rule in _inputs(r)["spec"].get("egress", [])
        if any("ipBlock" in peer for peer in rule.get("to", []))
    ]
    ports = {p["port"] for rule in egress for p in rule.get("ports", [])}
    assert cloud.redis_port in ports
