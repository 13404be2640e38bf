"""Scoping: the workspace name is derived from the tenant id; responses keep only whitelisted fields."""

import re
import uuid

import orjson
from maestro_api.registry.scoping import (
    public_experiment,
    public_model,
    public_page,
    public_run,
    public_version,
    tenant_artifact_root,
    workspace_for,
)

TENANT = uuid.UUID("11111111-2222-3333-4444-555555555555")
WORKSPACE_RULE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # MLflow's WorkspaceNameValidator pattern


def test_workspace_name_is_valid_for_mlflow_and_distinct_per_tenant() -> None:
    name = workspace_for(TENANT)
    assert WORKSPACE_RULE.match(name) and 2 <= len(name) <= 63
    assert workspace_for(uuid.uuid4()) != name
    assert workspace_for(TENANT) == name


def test_tenant_artifact_root_appends_the_tenant_id_once() -> None:
    assert tenant_artifact_root("s3://b/tenants/", TENANT) == f"s3://b/tenants/{TENANT}"
    assert tenant_artifact_root("s3://b/tenants", TENANT) == f"s3://b/tenants/{TENANT}"


def test_public_shapes_drop_the_workspace_and_unknown_fields() -> None:
    ws = workspace_for(TENANT)
    experiment = {"experiment_id": "1", "name": "e", "workspace": ws, "tags": [{"key": "a", "value": "b"}]}
    run = {
        "info": {"run_id": "r", "experiment_id": "1", "workspace": ws},
        "data": {"metrics": [{"key": "m", "value": 1.5}]},
    }
    version = {"name": "m", "version": "1", "workspace": ws, "run_link": "http://mlflow", "aliases": ["champion"]}
    model = {"name": "m", "workspace": ws, "latest_versions": [version], "aliases": [{"alias": "c", "version": "1"}]}
    out = orjson.dumps(
        [public_experiment(experiment), public_run(run), public_version(version), public_model(model)]
    ).decode()
    assert ws not in out and "workspace" not in out and "run_link" not in out
    assert public_experiment(experiment)["tags"] == {"a": "b"}
    assert public_run(run)["metrics"] == {"m": 1.5}
    assert public_model(model)["aliases"] == {"c": "1"}
    assert public_model(model)["latest_versions"][0]["aliases"] == ["champion"]


def test_public_page_passes_the_token_or_none() -> None:
    assert public_page([], "") == {"items": [], "next_page_token": None}
    assert public_page([{"a": 1}], "tok") == {"items": [{"a": 1}], "next_page_token": "tok"}
