"""The `maestro:gcp` config: what only GCP has. Defaults, error keys and the rules both clouds share are tested once
for both in tests/components/config/test_cloud.py."""

from __future__ import annotations

from components.config import load_config
from components.config.gcp import GcpConfig
from tests.components.clouds import CLOUDS, raw_config, with_cloud


def test_the_shipped_stacks_validate() -> None:
    dev, prod = load_config(raw_config("dev-gcp")), load_config(raw_config("prod-gcp"))
    assert isinstance(dev.gcp, GcpConfig) and isinstance(prod.gcp, GcpConfig)
    assert prod.gcp.private_endpoint_only and not dev.gcp.private_endpoint_only
    assert prod.gcp.turbo_replication and prod.gcp.dual_region == ("europe-west1", "europe-west4")


def test_the_bucket_prefix_defaults_to_the_project() -> None:
    for env in ("dev", "prod"):
        cfg = load_config({**raw_config(f"{env}-gcp"), "gcp": CLOUDS["gcp"].minimal}).gcp
        assert cfg is not None and cfg.buckets_prefix == "acme-maestro-x-maestro"
    named = load_config(with_cloud("dev-gcp", bucketPrefix="acme-ml")).gcp
    assert named is not None and named.buckets_prefix == "acme-ml"
