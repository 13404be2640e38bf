"""Maestro: `pulumi up -s <stack>` builds the whole platform. Config is read here and nowhere else, and this is the
one place of the program that knows where the checkout keeps its files."""

import json
from typing import Any

import pulumi

from components.config import TOP_LEVEL_KEYS, load_config, load_ports
from components.platform import MaestroPlatform, PlatformArgs, RepositoryFiles
from components.workloads.images import ImageSource
from config import network
from maestro.paths import ROOT


def _raw_config() -> dict[str, Any]:
    config = pulumi.Config("maestro")
    raw: dict[str, Any] = {}
    for key in TOP_LEVEL_KEYS:
        value = config.get(key)
        if value is None:
            continue
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value  # a plain string such as `environment: prod`
    return raw


# The checkout's files the platform uses: the repository layout is known here, at the edge, not in components/.
FILES = RepositoryFiles(
    dashboards_dir=ROOT / "dashboards" / "generated",
    rules_dir=ROOT / "dashboards" / "rules",
    alertmanager_file=ROOT / "dashboards" / "alertmanager" / "alertmanager.yml",
    # The API builds from the repository root: the uv workspace and its lock file live there (app/Dockerfile).
    api_image=ImageSource(context=ROOT, dockerfile=ROOT / "app" / "Dockerfile"),
    mlflow_image=ImageSource(context=ROOT / "images" / "mlflow", dockerfile=ROOT / "images" / "mlflow" / "Dockerfile"),
)
PORTS_FILE = ROOT / "config" / "ports.yaml"
MATRIX_FILE = ROOT / "config" / "network.yaml"

settings = load_config(_raw_config(), region=pulumi.Config("aws").get("region"))
platform = MaestroPlatform(
    "maestro",
    PlatformArgs(
        config=settings,
        ports=load_ports(PORTS_FILE),
        files=FILES,
        matrix=network.load(MATRIX_FILE, PORTS_FILE),
    ),
)
foundation = platform.foundation

pulumi.export("environment", settings.environment)
pulumi.export("apiUrl", platform.api_url)
pulumi.export("grafanaUrl", platform.grafana_url)
pulumi.export("clusterName", foundation.cluster_name)
pulumi.export("kubeconfig", pulumi.Output.secret(foundation.kubeconfig))
pulumi.export("backupBucket", foundation.backup_bucket.name if foundation.backup_bucket else None)
pulumi.export("artifactBucket", foundation.artifact_bucket.name if foundation.artifact_bucket else None)
pulumi.export("wafId", foundation.waf_id)
for key, value in foundation.extra_outputs.items():
    pulumi.export(key, value)
# postgresCluster, postgresClusterUid (and postgresRestoreCluster when restoring): `maestro restore --stack` reads them.
for key, value in platform.stack_outputs.items():
    pulumi.export(key, value)
