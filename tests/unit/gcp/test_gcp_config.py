"""The `maestro:gcp` config: secure per-environment defaults, and every error names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_config
from components.gcp.config import DEFAULTS, GcpConfig

STACKS = Path(__file__).resolve().parents[3] / "stacks"


def _raw(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("maestro:")}


def _with_gcp(stack: str, **fields: Any) -> dict[str, Any]:
    raw = _raw(stack)
    return {**raw, "gcp": {**raw["gcp"], **fields}}


def test_the_shipped_stacks_validate() -> None:
    dev, prod = load_config(_raw("dev-gcp")), load_config(_raw("prod-gcp"))
    assert isinstance(dev.gcp, GcpConfig) and isinstance(prod.gcp, GcpConfig)
    assert prod.gcp.private_endpoint_only and not dev.gcp.private_endpoint_only
    assert prod.gcp.turbo_replication and prod.gcp.dual_region == ("europe-west1", "europe-west4")


def test_environment_defaults_fill_what_the_stack_leaves_out() -> None:
    minimal = {"project": "acme-maestro-x", "projectNumber": "123456", "region": "us-east1"}
    for env in ("dev", "prod"):
        cfg = load_config({**_raw(f"{env}-gcp"), "gcp": minimal}).gcp
        assert cfg is not None
        assert cfg.private_endpoint_only is DEFAULTS[env]["privateEndpointOnly"]
        assert cfg.release_channel == DEFAULTS[env]["releaseChannel"]
        assert cfg.redis_memory_gb == DEFAULTS[env]["redisMemoryGb"]
        assert cfg.buckets_prefix == "acme-maestro-x-maestro"
    assert DEFAULTS["prod"]["privateEndpointOnly"] is True and DEFAULTS["dev"]["privateEndpointOnly"] is False


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"projectNumber": "not-a-number"}, "maestro:gcp.projectNumber"),
        ({"project": "X"}, "maestro:gcp.project"),
        ({"redisCidr": "10.60.32.0/28"}, "maestro:gcp.redisCidr"),
        ({"masterCidr": "172.16.0.0/24"}, "maestro:gcp.masterCidr"),
        ({"servicesCidr": "10.60.0.0/20"}, "maestro:gcp.servicesCidr"),
        ({"podsCidr": "not-a-cidr"}, "maestro:gcp.podsCidr"),
        ({"nodeMin": 5, "nodeMax": 2}, "maestro:gcp.nodeMin"),
        ({"turboReplication": True, "dualRegion": None}, "maestro:gcp.turboReplication"),
        ({"dualRegion": ["europe-west1", "us-east1"]}, "maestro:gcp.dualRegion"),
        ({"releaseChannel": "NIGHTLY"}, "maestro:gcp.releaseChannel"),
        ({"wafSensitivity": 7}, "maestro:gcp.wafSensitivity"),
        ({"privateEndpointOnly": False, "masterAuthorizedCidrs": []}, "maestro:gcp.masterAuthorizedCidrs"),
        ({"privateEndpointOnly": False, "masterAuthorizedCidrs": ["0.0.0.0/0"]}, "maestro:gcp.masterAuthorizedCidrs"),
        ({"unknownField": 1}, "maestro:gcp.unknownField"),
    ],
)
def test_invalid_gcp_config_names_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_with_gcp("prod-gcp", **change))
    assert str(err.value).startswith(f"{key}: "), str(err.value)


def test_a_public_control_plane_is_allowed_in_dev_only_with_the_defaults() -> None:
    # Dev may go without authorized CIDRs (a laptop reaching the endpoint); prod may not (previous test).
    cfg = load_config(_with_gcp("dev-gcp", masterAuthorizedCidrs=[])).gcp
    assert cfg is not None and cfg.master_authorized_cidrs == ()


def test_gcp_needs_its_object_and_a_registry() -> None:
    raw = _raw("dev-gcp")
    with pytest.raises(ConfigError, match=r"^maestro:gcp: required when cloud is gcp"):
        load_config({k: v for k, v in raw.items() if k != "gcp"})
    with pytest.raises(ConfigError, match=r"^maestro:images.build: "):
        load_config({**raw, "images": {**raw["images"], "build": True}})
