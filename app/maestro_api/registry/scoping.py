"""Tenant scoping: each tenant is one MLflow workspace, and only whitelisted fields leave the API.

MLflow 3.17.2 supports workspaces (``mlflow server --enable-workspaces``, ``X-MLFLOW-WORKSPACE`` header): the
store filters every experiment, run, registered model, version and alias by workspace, names are unique per
workspace, and filters and page tokens are evaluated inside it. So a tenant's objects live in the workspace
``workspace_for(tenant_id)``; there is no name prefix to strip and no client filter to rewrite.

The mapping must never leak: the workspace name is derived from the authenticated principal only (the client's
own ``X-MLFLOW-WORKSPACE`` header is never forwarded, since the client never talks to MLflow), and responses are
rebuilt from a whitelist of fields (MLflow adds ``workspace`` to experiments, for example).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

WORKSPACE_PREFIX = "mt-"


def workspace_for(tenant_id: uuid.UUID) -> str:
    """The MLflow workspace of a tenant: ``mt-<32 hex>``, which matches MLflow's workspace name rules."""
    return WORKSPACE_PREFIX + tenant_id.hex


def tenant_artifact_root(artifact_root: str, tenant_id: uuid.UUID) -> str:
    """``{artifact_root}/{tenant_id}``: the only place a tenant's artifacts and model version sources may live."""
    return f"{artifact_root.rstrip('/')}/{tenant_id}"


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, Iterable) and not isinstance(raw, str | bytes):
        return {str(t.get("key")): str(t.get("value", "")) for t in raw if isinstance(t, Mapping) and "key" in t}
    return {}


def _pick(src: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: src[k] for k in keys if k in src}


_EXPERIMENT_KEYS = (
    "experiment_id",
    "name",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
)
_RUN_INFO_KEYS = (
    "run_id",
    "run_name",
    "experiment_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
)
_VERSION_KEYS = (
    "name",
    "version",
    "description",
    "source",
    "run_id",
    "status",
    "status_message",
    "current_stage",
    "creation_timestamp",
    "last_updated_timestamp",
)
_MODEL_KEYS = ("name", "description", "creation_timestamp", "last_updated_timestamp")


def public_experiment(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(raw, _EXPERIMENT_KEYS)
    out["tags"] = _tags(raw.get("tags"))
    return out


def public_run(raw: Mapping[str, Any]) -> dict[str, Any]:
    info = raw.get("info") or {}
    data = raw.get("data") or {}
    out = _pick(info, _RUN_INFO_KEYS)
    out["params"] = _tags(data.get("params"))
    out["tags"] = _tags(data.get("tags"))
    out["metrics"] = {
        str(m["key"]): m.get("value") for m in data.get("metrics") or () if isinstance(m, Mapping) and "key" in m
    }
    return out


def public_version(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(raw, _VERSION_KEYS)
    out["tags"] = _tags(raw.get("tags"))
    out["aliases"] = [str(a) for a in raw.get("aliases") or ()]
    return out


def public_model(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(raw, _MODEL_KEYS)
    out["tags"] = _tags(raw.get("tags"))
    out["aliases"] = {
        str(a["alias"]): str(a.get("version", "")) for a in raw.get("aliases") or () if isinstance(a, Mapping)
    }
    out["latest_versions"] = [public_version(v) for v in raw.get("latest_versions") or ()]
    return out


def public_page(items: list[dict[str, Any]], next_page_token: Any) -> dict[str, Any]:
    """A page of results. MLflow's page tokens only encode an offset inside the workspace; they are passed on."""
    return {"items": items, "next_page_token": str(next_page_token) if next_page_token else None}
