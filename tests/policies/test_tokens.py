"""The type tokens and tag maps the rules rely on exist in the installed provider SDKs (read as text, no import)."""

from __future__ import annotations

import re
from importlib.util import find_spec
from pathlib import Path

import pytest
from maestro_policies import tagging

from maestro.paths import ROOT

PACK = ROOT / "policies" / "maestro_policies"
TOKEN = re.compile(r'"((?:aws|gcp|azure-native|kubernetes):[A-Za-z0-9./-]+:[A-Za-z0-9]+)"')
# Custom resources (no SDK class) and azure-native v2 names kept so v2 programs are still checked.
NOT_IN_SDK = {
    "kubernetes:acid.zalan.do/v1:postgresql",
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:monitoring.coreos.com/v1:Prometheus",
    "kubernetes:cloud.google.com/v1:BackendConfig",
    "azure-native:cache:Redis",
    "azure-native:insights:DiagnosticSetting",
}
NOT_TOKENS = {"aws:kms:dsse"}  # an sseAlgorithm value that looks like a token
# Python-side components whose class lives in a differently named file.
FILES = {"kubernetes:helm.sh/v3:Chart": ("pulumi_kubernetes", "helm/v3/helm.py")}
SDK = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure-native": "pulumi_azure_native",
    "kubernetes": "pulumi_kubernetes",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def sdk_file(token: str) -> Path:
    pkg, module, cls = token.split(":")
    if token in FILES:
        spec = find_spec(FILES[token][0])
        assert spec is not None and spec.origin is not None
        return Path(spec.origin).parent / FILES[token][1]
    spec = find_spec(SDK[pkg])
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    if pkg == "kubernetes":
        group, version = module.split("/")
        return root / group.split(".")[0] / version / f"{cls}.py"
    if pkg == "azure-native":
        return root / module / f"{_snake(cls)}.py"
    return root / module.split("/")[0] / f"{_snake(cls)}.py"


def rule_tokens() -> set[str]:
    found: set[str] = set()
    for path in PACK.glob("*.py"):
        found |= set(TOKEN.findall(path.read_text()))
    return found - NOT_TOKENS


def test_rules_name_types_at_all() -> None:
    assert len(rule_tokens()) > 100


@pytest.mark.parametrize("token", sorted(rule_tokens() - NOT_IN_SDK))
def test_token_is_registered_by_the_installed_sdk(token: str) -> None:
    path = sdk_file(token)
    assert path.is_file(), f"{token}: no {path}"
    assert f'"{token}"' in path.read_text() or f"'{token}'" in path.read_text()


@pytest.mark.parametrize(
    ("types", "key"),
    [
        (tagging.AWS_TAGGABLE, "tags"),
        (tagging.AZURE_TAGGABLE - NOT_IN_SDK, "tags"),
        (tagging.GCP_LABELABLE, "labels"),
    ],
)
def test_taggable_types_accept_tags(types: frozenset[str], key: str) -> None:
    for token in types:
        path, name = sdk_file(token), key
        if token == "gcp:sql/databaseInstance:DatabaseInstance":
            path, name = path.with_name("_inputs.py"), "user_labels"  # settings.userLabels is a nested input
        elif token == "gcp:container/cluster:Cluster":
            name = "resource_labels"
        assert f"def {name}(self)" in path.read_text(), f"{token} has no {name} input"
