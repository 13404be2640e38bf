"""The GCP and Azure stacks for tests of what both clouds do alike: the table `CLOUDS` holds the few names and values
in which the clouds differ for the shared rules, so one test body runs for both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from components.config.azure import DEFAULTS as AZURE_DEFAULTS
from components.config.gcp import DEFAULTS as GCP_DEFAULTS
from components.foundations.azure.redis import AZURE_REDIS_TLS_PORT
from components.foundations.azure.scope import AzureFoundationArgs
from components.foundations.cloud import CloudFoundationArgs
from components.foundations.gcp.args import GcpFoundationArgs
from components.foundations.gcp.redis import MEMORYSTORE_TLS_PORT
from maestro.paths import ROOT

STACKS_DIR = ROOT / "stacks"


@dataclass(frozen=True)
class Cloud:
    """How one cloud spells the shared rules."""

    name: str
    """`gcp` or `azure`: the `maestro:` key and the stacks' suffix."""
    args_type: type[CloudFoundationArgs[Any]]
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


def raw_config(stack: str) -> dict[str, Any]:
    config = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("maestro:")}


def with_cloud(stack: str, **fields: Any) -> dict[str, Any]:
    """The stack's raw `maestro:` config with `fields` changed in its cloud's object."""
    raw, cloud = raw_config(stack), stack.split("-")[1]
    return {**raw, cloud: {**raw[cloud], **fields}}
