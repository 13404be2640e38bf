"""What the GCP and Azure Foundations do alike, one test body run for both clouds (components/cloud_common.py).

Cloud-specific behaviour stays in tests/unit/gcp/ and tests/unit/azure/; the table `CLOUDS` holds the few names and
values in which the clouds differ for the shared rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import cloud_common
from components.azure.config import DEFAULTS as AZURE_DEFAULTS
from components.azure.foundation import AZURE_REDIS_TLS_PORT, AzureFoundationArgs
from components.config import ConfigError, load_config, load_ports
from components.foundation import IdentityRequest
from components.gcp.config import DEFAULTS as GCP_DEFAULTS
from components.gcp.foundation import MEMORYSTORE_TLS_PORT, GcpFoundationArgs
from components.platform import IDENTITIES
from maestro.offline import mockrun
from tests.unit.stacks import evaluated

STACKS_DIR = Path(__file__).resolve().parents[2] / "stacks"
FOUNDATIONS = ("maestro:aws:Foundation", "maestro:gcp:Foundation", "maestro:azure:Foundation")


@dataclass(frozen=True)
class Cloud:
    """How one cloud spells the shared rules."""

    name: str
    """`gcp` or `azure`: the `maestro:` key and the stacks' suffix."""
    args_type: type[cloud_common.CloudFoundationArgs[Any]]
    """The cloud's Foundation args."""
    waf_type: str
    """Type token of the WAF policy the Foundation attaches."""
    redis_port: int
    """The managed Redis's TLS port (fixed by the service)."""
    bucket_output: str
    """Regular expression of the `backupBucket`/`artifactBucket` outputs, `{purpose}` filled in."""
    minimal: dict[str, Any]
    """The smallest `maestro:<cloud>` object a prod stack accepts (no per-environment field)."""
    defaults: dict[str, str]
    """Per-environment defaults checked: model attribute -> DEFAULTS key."""
    env_defaults: dict[str, dict[str, Any]]
    """The cloud's DEFAULTS."""
    private_key: str
    """DEFAULTS key of the private control plane."""
    public_dev: dict[str, Any] = field(default_factory=dict)
    """Stack changes that make dev's control plane public without any allowed CIDR."""
    public_dev_expect: dict[str, Any] = field(default_factory=dict)
    """What the validated dev config then holds: model attribute -> value."""


CLOUDS = {
    "gcp": Cloud(
        name="gcp",
        args_type=GcpFoundationArgs,
        waf_type="gcp:compute/securityPolicy:SecurityPolicy",
        redis_port=MEMORYSTORE_TLS_PORT,
        bucket_output=r".+-{purpose}",
        minimal={"project": "acme-maestro-x", "projectNumber": "123456", "region": "us-east1"},
        defaults={
            "private_endpoint_only": "privateEndpointOnly",
            "release_channel": "releaseChannel",
            "redis_memory_gb": "redisMemoryGb",
        },
        env_defaults=GCP_DEFAULTS,
        private_key="privateEndpointOnly",
        public_dev={"masterAuthorizedCidrs": []},
        public_dev_expect={"private_endpoint_only": False, "master_authorized_cidrs": ()},
    ),
    "azure": Cloud(
        name="azure",
        args_type=AzureFoundationArgs,
        waf_type="azure-native:network:WebApplicationFirewallPolicy",
        redis_port=AZURE_REDIS_TLS_PORT,
        bucket_output=r"{purpose}",
        minimal={
            "subscriptionId": "00000000-0000-4000-8000-000000000001",
            "tenantId": "00000000-0000-4000-8000-0000000000aa",
            "location": "northeurope",
            "namePrefix": "acme",
            "tlsCertificateName": "maestro-api",  # prod refuses to run without one; there is no default
        },
        defaults={
            "private_cluster": "privateCluster",
            "zones": "zones",
            "redis_sku": "redisSku",
            "soft_delete_days": "softDeleteDays",
        },
        env_defaults=AZURE_DEFAULTS,
        private_key="privateCluster",
        public_dev={"zones": [], "authorizedIpRanges": []},
        public_dev_expect={"private_cluster": False, "authorized_ip_ranges": (), "zones": ()},
    ),
}
STACKS = [pytest.param(CLOUDS[s.split("-")[1]], s, id=s) for s in ("dev-gcp", "prod-gcp", "dev-azure", "prod-azure")]
BY_CLOUD = [pytest.param(c, id=c.name) for c in CLOUDS.values()]


def _inputs(r: mockrun.RecordedResource) -> dict[str, Any]:
    return dict(mockrun.plain(r.inputs))


def raw_config(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("maestro:")}


def with_cloud(stack: str, **fields: Any) -> dict[str, Any]:
    """The stack's raw `maestro:` config with `fields` changed in its cloud's object."""
    raw, cloud = raw_config(stack), stack.split("-")[1]
    return {**raw, cloud: {**raw[cloud], **fields}}


# --- config ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "change", "key"),
    [
        ("prod-gcp", {"projectNumber": "not-a-number"}, "maestro:gcp.projectNumber"),
        ("prod-gcp", {"project": "X"}, "maestro:gcp.project"),
        ("prod-gcp", {"redisCidr": "10.60.32.0/28"}, "maestro:gcp.redisCidr"),
        ("prod-gcp", {"masterCidr": "172.16.0.0/24"}, "maestro:gcp.masterCidr"),
        ("prod-gcp", {"servicesCidr": "10.60.0.0/20"}, "maestro:gcp.servicesCidr"),
        ("prod-gcp", {"podsCidr": "not-a-cidr"}, "maestro:gcp.podsCidr"),
        ("prod-gcp", {"nodeMin": 5, "nodeMax": 2}, "maestro:gcp.nodeMin"),
        ("prod-gcp", {"turboReplication": True, "dualRegion": None}, "maestro:gcp.turboReplication"),
        ("prod-gcp", {"dualRegion": ["europe-west1", "us-east1"]}, "maestro:gcp.dualRegion"),
        ("prod-gcp", {"releaseChannel": "NIGHTLY"}, "maestro:gcp.releaseChannel"),
        ("prod-gcp", {"wafSensitivity": 7}, "maestro:gcp.wafSensitivity"),
        ("prod-gcp", {"privateEndpointOnly": False, "masterAuthorizedCidrs": []}, "maestro:gcp.masterAuthorizedCidrs"),
        (
            "prod-gcp",
            {"privateEndpointOnly": False, "masterAuthorizedCidrs": ["0.0.0.0/0"]},
            "maestro:gcp.masterAuthorizedCidrs",
        ),
        ("prod-gcp", {"unknownField": 1}, "maestro:gcp.unknownField"),
        ("prod-azure", {"subscriptionId": "not-a-guid"}, "maestro:azure.subscriptionId"),
        ("prod-azure", {"tenantId": "x"}, "maestro:azure.tenantId"),
        ("prod-azure", {"namePrefix": "Has-Caps"}, "maestro:azure.namePrefix"),
        ("prod-azure", {"appgwSubnetCidr": "10.80.0.0/24"}, "maestro:azure.appgwSubnetCidr"),
        ("prod-azure", {"endpointsSubnetCidr": "10.70.0.0/24"}, "maestro:azure.endpointsSubnetCidr"),
        ("prod-azure", {"podCidr": "10.70.0.0/16"}, "maestro:azure.podCidr"),
        ("prod-azure", {"serviceCidr": "10.244.0.0/16"}, "maestro:azure.serviceCidr"),
        ("prod-azure", {"nodeMin": 9, "nodeMax": 3}, "maestro:azure.nodeMin"),
        ("prod-azure", {"redisSku": "Standard"}, "maestro:azure.redisSku"),
        ("prod-azure", {"redisCapacity": 0}, "maestro:azure.redisCapacity"),
        ("prod-azure", {"zones": ["1"]}, "maestro:azure.zones"),
        ("prod-azure", {"privateCluster": False, "authorizedIpRanges": []}, "maestro:azure.authorizedIpRanges"),
        ("prod-azure", {"keyVaultAllowedCidrs": ["0.0.0.0/0"]}, "maestro:azure.keyVaultAllowedCidrs"),
        ("prod-azure", {"skuTier": "Gold"}, "maestro:azure.skuTier"),
        ("prod-azure", {"tlsCertificateName": None}, "maestro:azure.tlsCertificateName"),
        ("prod-azure", {"tlsCertificateName": "api/cert"}, "maestro:azure.tlsCertificateName"),
        ("prod-azure", {"typo": True}, "maestro:azure.typo"),
    ],
)
def test_invalid_cloud_config_names_the_key(stack: str, change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(with_cloud(stack, **change))
    assert str(err.value).startswith(f"{key}: "), str(err.value)


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_environment_defaults_fill_what_the_stack_leaves_out(cloud: Cloud) -> None:
    for env in ("dev", "prod"):
        cfg = getattr(load_config({**raw_config(f"{env}-{cloud.name}"), cloud.name: cloud.minimal}), cloud.name)
        assert cfg is not None
        for attribute, key in cloud.defaults.items():
            value = getattr(cfg, attribute)
            assert (list(value) if isinstance(value, tuple) else value) == cloud.env_defaults[env][key], attribute
    assert cloud.env_defaults["prod"][cloud.private_key] is True
    assert cloud.env_defaults["dev"][cloud.private_key] is False


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_dev_may_run_a_public_control_plane_without_allowed_cidrs(cloud: Cloud) -> None:
    # Dev may go without allowed CIDRs (a laptop reaching the endpoint); prod may not (the invalid cases above).
    cfg = getattr(load_config(with_cloud(f"dev-{cloud.name}", **cloud.public_dev)), cloud.name)
    assert cfg is not None
    assert {a: getattr(cfg, a) for a in cloud.public_dev_expect} == cloud.public_dev_expect


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_the_cloud_needs_its_object_and_a_registry(cloud: Cloud) -> None:
    raw = raw_config(f"dev-{cloud.name}")
    assert getattr(load_config(raw), cloud.name) is not None
    with pytest.raises(ConfigError, match=rf"^maestro:{cloud.name}: required when cloud is {cloud.name}"):
        load_config({k: v for k, v in raw.items() if k != cloud.name})
    with pytest.raises(ConfigError, match=r"^maestro:images.build: "):
        load_config({**raw, "images": {**raw["images"], "build": True}})


# --- Foundation args ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_foundation_args_come_from_the_stack_config(cloud: Cloud) -> None:
    config = load_config(raw_config(f"prod-{cloud.name}"))
    args = cloud_common.foundation_args(cloud.args_type, cloud.name, config, load_ports(), IDENTITIES)
    assert isinstance(args, cloud.args_type)
    assert args.config is getattr(config, cloud.name)
    assert (args.environment, args.deletion_protection) == ("prod", True)
    assert args.postgres is config.postgres and args.waf is config.waf and args.identities is IDENTITIES
    assert args.managed_tags == {**config.common_tags, "managed-by": "pulumi"}
    # A config that lost its cloud object (load_config refuses that; a hand-built one may not) fails by name.
    with pytest.raises(ValueError, match=rf"^maestro:{cloud.name}: required when cloud is {cloud.name}$"):
        cloud_common.foundation_args(
            cloud.args_type,
            cloud.name,
            config.model_copy(update={cloud.name: None}),
            load_ports(),
            IDENTITIES,
        )


@pytest.mark.parametrize("cloud", BY_CLOUD)
def test_foundation_args_refuse_an_identity_for_an_unknown_bucket(cloud: Cloud) -> None:
    config = load_config(raw_config(f"dev-{cloud.name}"))
    ports = load_ports()
    wrong = {**IDENTITIES, "logs": IdentityRequest("maestro", "logs", "logs")}
    with pytest.raises(ValueError, match=r"^identities: unknown bucket purpose 'logs'$"):
        cloud_common.foundation_args(cloud.args_type, cloud.name, config, ports, wrong)
    right = cloud_common.foundation_args(cloud.args_type, cloud.name, config, ports, IDENTITIES)
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
