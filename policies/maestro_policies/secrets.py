"""No secret in a plain (non-secret) input.

What the pack can see: pulumi-policy hands rules the inputs with Pulumi's secret markers already removed, so a rule
cannot ask "was this value a secret?". It can check where secrets must never be: literal values of
credential-named environment variables and ConfigMap keys (a secret belongs in a Secret, referenced through
secretKeyRef), and credential-shaped strings (cloud access keys, private keys) in any resource that is not itself
a secret store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import _is_unknown  # the SDK's own test for unknown sentinels

from .props import WORKLOAD_TYPES, as_list, containers, get, is_list, pod_spec
from .rule import Family, Res

RULES = Family("secrets")

SECRET_NAME = re.compile(r"(PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|PEPPER|ACCESS_?KEY)", re.I)
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET_STORES = frozenset(
    {
        "kubernetes:core/v1:Secret",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:ssm/parameter:Parameter",
        "gcp:secretmanager/secretVersion:SecretVersion",
        "azure-native:keyvault:Secret",
        "random:index/randomPassword:RandomPassword",
        "tls:index/privateKey:PrivateKey",
    }
)
CREDENTIAL_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----"),
    "GCP service account key": re.compile(r'"type"\s*:\s*"service_account"'),
    "Azure storage connection string": re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}"),
}


def _is_placeholder(value: str) -> bool:
    return value == "" or value.startswith(("$(", "${")) or value.lower() in ("changeme", "none", "false", "true")


@RULES.resource(
    "MAESTRO-SEC-001",
    "Credentials reach workloads through Secrets, never as literal env or ConfigMap values.",
    "Literal env values and ConfigMaps are stored unencrypted, shown by kubectl describe and copied "
    "into the Pulumi state in clear text.",
    "critical",
    "Put the value in a Kubernetes Secret (from a Pulumi secret) and reference it with env.valueFrom."
    "secretKeyRef or envFrom.secretRef.",
    "https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables",
    types=[*WORKLOAD_TYPES, CONFIG_MAP],
)
def no_literal_secrets(r: Res) -> Iterable[str]:
    if r.type == CONFIG_MAP:
        for key in get(r.props, "data", default={}):
            value = get(r.props, "data", key)
            if SECRET_NAME.search(str(key)) and isinstance(value, str) and not _is_placeholder(value):
                yield f"ConfigMap key {key} holds a literal credential."
        return
    for c in containers(pod_spec(r.type, r.props)):
        for e in as_list(get(c, "env")):
            name, value = str(get(e, "name", default="")), get(e, "value")
            # *_FILE variables point at a mounted secret; they carry a path, not the secret.
            literal = isinstance(value, str) and not _is_placeholder(value)
            if SECRET_NAME.search(name) and not name.endswith("_FILE") and literal:
                yield f"container {get(c, 'name')}: env {name} is a literal value."


def _raw(v: Any) -> Any:
    """Unwrap pulumi-policy's unknown-checking proxies without raising: a credential scan reads everything."""
    if isinstance(v, Mapping):
        target = v["__target"] if type(v).__name__ == "_DictProxy" else v
        return {k: _raw(target[k]) for k in target}
    if is_list(v):
        target = v["__target"] if type(v).__name__ == "_ListProxy" else v
        return [_raw(x) for x in target]
    return v


def _strings(v: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _strings(x, f"{path}.{k}" if path else str(k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _strings(x, f"{path}[{i}]")
    elif isinstance(v, str) and not _is_unknown(v):
        yield path, v


@RULES.resource(
    "MAESTRO-SEC-002",
    "No credential-shaped value appears in a resource's inputs.",
    "Access keys and private keys pasted into config end up in the state file, the preview diff and CI logs.",
    "critical",
    "Remove the value, rotate the credential, and pass it as a Pulumi secret into a secret store (Kubernetes "
    "Secret, Secrets Manager, Secret Manager, Key Vault), or use workload identity instead.",
    "https://www.pulumi.com/docs/iac/concepts/secrets/",
    types=[],
    covers=("aws", "gcp", "azure", "kubernetes"),
)
def no_credentials_in_inputs(r: Res) -> Iterable[str]:
    if r.type in SECRET_STORES or r.type.startswith("pulumi:providers:"):
        return
    for path, value in _strings(_raw(r.props)):
        for what, pattern in CREDENTIAL_PATTERNS.items():
            if pattern.search(value):
                yield f"{path} contains a {what}."
