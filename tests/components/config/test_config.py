"""components.config: defaults per environment, and every invalid value names its key."""

from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_config, load_ports, load_restore
from tests.components.stacks import PORTS_FILE

AWS: dict[str, Any] = {
    "environment": "prod",
    "cloud": "aws",
    "images": {"build": True, "apiTag": "0.1.0", "mlflowTag": "3.17.2-1"},
}
RESTORE: dict[str, Any] = {
    "sourceCluster": "maestro-pg",
    "sourceUid": "0c6e1a9e-5b8e-4c53-9d3b-3f0e8b7a2d11",
    "timestamp": "2026-11-27T23:00:00+00:00",
}
KIND: dict[str, Any] = {
    "environment": "dev",
    "cloud": "kubernetes",
    "images": {"build": False, "registry": "ghcr.io/x", "apiTag": "0.1.0", "mlflowTag": "3.17.2-1"},
}


def test_prod_defaults_are_the_secure_ones() -> None:
    prod = load_config(AWS, region="us-east-1")
    assert prod.postgres.instances == 3 and prod.postgres.synchronous
    assert prod.postgres.backup_retention_days == 35
    assert prod.waf.mode == "block" and prod.deletion_protection
    assert prod.aws is not None and prod.aws.private_endpoint_only and prod.aws.nat_per_az
    assert prod.api.rate_limit_failure_mode == "closed" and prod.redis.replicas >= 1


def test_dev_defaults_are_cheaper() -> None:
    dev = load_config({**AWS, "environment": "dev"}, region="us-east-1")
    assert dev.postgres.instances == 1 and not dev.postgres.synchronous
    assert dev.postgres.backup_retention_days == 7
    assert dev.waf.mode == "count" and not dev.deletion_protection
    assert dev.aws is not None and not dev.aws.nat_per_az


def test_stack_values_override_defaults_field_by_field() -> None:
    cfg = load_config({**AWS, "postgres": {"instances": 5}}, region="us-east-1")
    assert cfg.postgres.instances == 5 and cfg.postgres.synchronous


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"environment": "staging"}, "maestro:environment"),
        ({"postgress": {}}, "maestro:postgress"),
        ({"postgres": {"instances": 2}}, "maestro:postgres.instances"),
        ({"postgres": {"instances": "three"}}, "maestro:postgres.instances"),
        ({"postgres": {"volumeSize": "lots"}}, "maestro:postgres.volumeSize"),
        ({"postgres": {"unknown": 1}}, "maestro:postgres.unknown"),
        ({"postgres": "big"}, "maestro:postgres"),
        ({"images": {"build": True, "apiTag": "latest", "mlflowTag": "1"}}, "maestro:images.apiTag"),
        ({"api": {"minReplicas": 5, "maxReplicas": 2}}, "maestro:api.minReplicas"),
        ({"aws": {"drRegion": "us-east-1"}}, "maestro:aws.drRegion"),
        ({"aws": {"nodeMin": 5}}, "maestro:aws.nodeDesired"),
        ({"aws": {"privateEndpointOnly": False}}, "maestro:aws.publicAccessCidrs"),
        ({"waf": {"mode": "off"}}, "maestro:waf.mode"),
        ({"images": {"build": False, "apiTag": "0.1.0", "mlflowTag": "1"}}, "maestro:images.registry"),
        ({"gcp": "not-an-object"}, "maestro:gcp"),
        (
            {"restore": {"sourceCluster": "maestro-pg", "sourceUid": "0" * 36, "timestamp": "2026-11-27T23:00:00"}},
            "maestro:restore.timestamp",
        ),
        ({"restore": {**RESTORE, "clusterName": "Maestro-PG-Restore"}}, "maestro:restore.clusterName"),
        ({"restore": {**RESTORE, "clusterName": "maestro-" + "x" * 50}}, "maestro:restore.clusterName"),
        ({"restore": {**RESTORE, "clusterName": "maestro-pg"}}, "maestro:restore.clusterName"),
        ({"restore": {**RESTORE, "clusterName": "other-pg-restore"}}, "maestro:restore.clusterName"),
        (
            {"restore": {**RESTORE, "sourceCluster": "maestro-pg-old", "clusterName": "maestro-pg-old"}},
            "maestro:restore.clusterName",
        ),
        ({"postgres": {"endpoint": "restore"}}, "maestro:postgres.endpoint"),
        ({"postgres": {"endpoint": "clone"}}, "maestro:postgres.endpoint"),
    ],
)
def test_invalid_config_names_the_key(override: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({**AWS, **override}, region="us-east-1")
    assert str(err.value).startswith(f"{key}: ")


def test_missing_region_names_the_aws_key() -> None:
    with pytest.raises(ConfigError, match=r"^aws:region: "):
        load_config(AWS, region=None)


def test_synchronous_mode_needs_two_members() -> None:
    with pytest.raises(ConfigError, match=r"^maestro:postgres.synchronous: "):
        load_config({**KIND, "postgres": {"synchronous": True, "instances": 1}})
    assert load_config({**KIND, "postgres": {"synchronous": True, "instances": 2}}).postgres.synchronous


def test_plain_kubernetes_needs_a_registry_and_cannot_build() -> None:
    assert load_config(KIND).images.registry == "ghcr.io/x"
    with pytest.raises(ConfigError, match=r"^maestro:images.registry: "):
        load_config({**KIND, "images": {**KIND["images"], "registry": None}})
    with pytest.raises(ConfigError, match=r"^maestro:images.build: "):
        load_config({**KIND, "images": {**KIND["images"], "build": True}})


def test_digest_pins_are_accepted() -> None:
    digest = "sha256:" + "a" * 64
    cfg = load_config({**KIND, "images": {**KIND["images"], "apiTag": digest}})
    assert cfg.images.api_tag == digest


def test_ports_come_from_the_port_map() -> None:
    raw = yaml.safe_load(PORTS_FILE.read_text())
    ports = load_ports(PORTS_FILE)
    assert (ports.api, ports.postgres, ports.redis) == (raw["api"], raw["postgres"], raw["redis"])


def test_restore_is_a_clone_next_to_the_live_cluster_and_the_endpoint_follows_config() -> None:
    cfg = load_config({**AWS, "restore": RESTORE}, region="us-east-1")
    assert cfg.restore is not None and cfg.restore.cluster_name == "maestro-pg-restore"
    assert cfg.postgres.endpoint == "primary"
    switched = load_config({**AWS, "restore": RESTORE, "postgres": {"endpoint": "restore"}}, region="us-east-1")
    assert switched.postgres.endpoint == "restore"
    named = load_config({**AWS, "restore": {**RESTORE, "clusterName": "maestro-pg-1127"}}, region="us-east-1")
    assert named.restore is not None and named.restore.cluster_name == "maestro-pg-1127"
    with pytest.raises(ConfigError, match=r"^maestro:postgres.endpoint: 'restore' .* maestro:restore is not set"):
        load_config({**AWS, "postgres": {"endpoint": "restore"}}, region="us-east-1")


def test_load_restore_names_the_key() -> None:
    assert load_restore(RESTORE).source_cluster == "maestro-pg"
    with pytest.raises(ConfigError, match=r"^maestro:restore.clusterName: must differ from sourceCluster"):
        load_restore({**RESTORE, "clusterName": "maestro-pg-x", "sourceCluster": "maestro-pg-x"})
    with pytest.raises(ConfigError, match=r"^maestro:restore.sourceUid: "):
        load_restore({**RESTORE, "sourceUid": "nope"})
