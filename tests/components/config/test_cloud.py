"""What the GCP and Azure configs share (components/config/cloud.py), one test body run for both clouds; what only
one has: tests/components/config/test_gcp.py and test_azure.py."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_config
from tests.components.clouds import BY_CLOUD, Cloud, raw_config, with_cloud


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
