"""The `maestro:azure` config: secure per-environment defaults, and every error names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.azure.config import DEFAULTS, AzureConfig
from components.config import ConfigError, load_config

STACKS = Path(__file__).resolve().parents[3] / "stacks"


def _raw(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("maestro:")}


def _with_azure(stack: str, **fields: Any) -> dict[str, Any]:
    raw = _raw(stack)
    return {**raw, "azure": {**raw["azure"], **fields}}


def test_the_shipped_stacks_validate() -> None:
    dev, prod = load_config(_raw("dev-azure")), load_config(_raw("prod-azure"))
    assert isinstance(dev.azure, AzureConfig) and isinstance(prod.azure, AzureConfig)
    assert prod.azure.private_cluster and not dev.azure.private_cluster
    assert prod.azure.dns_service_ip == "10.245.0.10"


def test_environment_defaults_fill_what_the_stack_leaves_out() -> None:
    minimal = {
        "subscriptionId": "00000000-0000-4000-8000-000000000001",
        "tenantId": "00000000-0000-4000-8000-0000000000aa",
        "location": "northeurope",
        "namePrefix": "acme",
        "tlsCertificateName": "maestro-api",  # prod refuses to run without one; there is no default
    }
    for env in ("dev", "prod"):
        cfg = load_config({**_raw(f"{env}-azure"), "azure": minimal}).azure
        assert cfg is not None
        assert cfg.private_cluster is DEFAULTS[env]["privateCluster"]
        assert list(cfg.zones) == DEFAULTS[env]["zones"]
        assert cfg.redis_sku == DEFAULTS[env]["redisSku"]
        assert cfg.soft_delete_days == DEFAULTS[env]["softDeleteDays"]
    assert DEFAULTS["prod"]["privateCluster"] is True and DEFAULTS["dev"]["privateCluster"] is False


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"subscriptionId": "not-a-guid"}, "maestro:azure.subscriptionId"),
        ({"tenantId": "x"}, "maestro:azure.tenantId"),
        ({"namePrefix": "Has-Caps"}, "maestro:azure.namePrefix"),
        ({"appgwSubnetCidr": "10.80.0.0/24"}, "maestro:azure.appgwSubnetCidr"),
        ({"endpointsSubnetCidr": "10.70.0.0/24"}, "maestro:azure.endpointsSubnetCidr"),
        ({"podCidr": "10.70.0.0/16"}, "maestro:azure.podCidr"),
        ({"serviceCidr": "10.244.0.0/16"}, "maestro:azure.serviceCidr"),
        ({"nodeMin": 9, "nodeMax": 3}, "maestro:azure.nodeMin"),
        ({"redisSku": "Standard"}, "maestro:azure.redisSku"),
        ({"redisCapacity": 0}, "maestro:azure.redisCapacity"),
        ({"zones": ["1"]}, "maestro:azure.zones"),
        ({"privateCluster": False, "authorizedIpRanges": []}, "maestro:azure.authorizedIpRanges"),
        ({"keyVaultAllowedCidrs": ["0.0.0.0/0"]}, "maestro:azure.keyVaultAllowedCidrs"),
        ({"skuTier": "Gold"}, "maestro:azure.skuTier"),
        ({"tlsCertificateName": None}, "maestro:azure.tlsCertificateName"),
        ({"tlsCertificateName": "api/cert"}, "maestro:azure.tlsCertificateName"),
        ({"typo": True}, "maestro:azure.typo"),
    ],
)
def test_invalid_azure_config_names_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_with_azure("prod-azure", **change))
    assert str(err.value).startswith(f"{key}: "), str(err.value)


def test_dev_may_run_without_zones_and_with_a_public_api_server() -> None:
    cfg = load_config(_with_azure("dev-azure", zones=[], authorizedIpRanges=[])).azure
    assert cfg is not None and cfg.zones == () and not cfg.private_cluster


def test_azure_needs_its_object() -> None:
    raw = _raw("dev-azure")
    with pytest.raises(ConfigError, match=r"^maestro:azure: required when cloud is azure"):
        load_config({k: v for k, v in raw.items() if k != "azure"})


def test_dev_may_serve_plain_http_prod_must_name_a_certificate() -> None:
    dev = load_config(_with_azure("dev-azure", tlsCertificateName=None)).azure
    assert dev is not None and dev.tls_certificate_name is None
    prod = load_config(_raw("prod-azure")).azure
    assert prod is not None and prod.tls_certificate_name == "maestro-api"
    with pytest.raises(ConfigError, match=r"^maestro:azure\.tlsCertificateName: prod serves the API over HTTPS"):
        load_config(_with_azure("prod-azure", tlsCertificateName=None))


def test_the_network_watcher_defaults_to_azures_automatic_one() -> None:
    cfg = load_config(_raw("prod-azure")).azure
    assert cfg is not None and cfg.watcher_name == "NetworkWatcher_westeurope"
    custom = load_config(_with_azure("prod-azure", networkWatcherName="nw-shared")).azure
    assert custom is not None and custom.watcher_name == "nw-shared"
