"""The `maestro:azure` config: what only Azure has. Defaults, error keys and the rules both clouds share are tested
once for both in tests/components/config/test_cloud.py."""

from __future__ import annotations

import pytest

from components.config import ConfigError, load_config
from components.config.azure import AzureConfig
from tests.components.clouds import raw_config, with_cloud


def test_the_shipped_stacks_validate() -> None:
    dev, prod = load_config(raw_config("dev-azure")), load_config(raw_config("prod-azure"))
    assert isinstance(dev.azure, AzureConfig) and isinstance(prod.azure, AzureConfig)
    assert prod.azure.private_cluster and not dev.azure.private_cluster
    assert prod.azure.dns_service_ip == "10.245.0.10"


def test_dev_may_serve_plain_http_prod_must_name_a_certificate() -> None:
    dev = load_config(with_cloud("dev-azure", tlsCertificateName=None)).azure
    assert dev is not None and dev.tls_certificate_name is None
    prod = load_config(raw_config("prod-azure")).azure
    assert prod is not None and prod.tls_certificate_name == "maestro-api"
    with pytest.raises(ConfigError, match=r"^maestro:azure\.tlsCertificateName: prod serves the API over HTTPS"):
        load_config(with_cloud("prod-azure", tlsCertificateName=None))


def test_the_network_watcher_defaults_to_azures_automatic_one() -> None:
    cfg = load_config(raw_config("prod-azure")).azure
    assert cfg is not None and cfg.watcher_name == "NetworkWatcher_westeurope"
    custom = load_config(with_cloud("prod-azure", networkWatcherName="nw-shared")).azure
    assert custom is not None and custom.watcher_name == "nw-shared"
