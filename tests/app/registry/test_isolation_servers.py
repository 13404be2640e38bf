"""Two tenants against a real MLflow: every registry route keeps each tenant to its own objects.

Tenant B tries A's ids, names, filters and page tokens on every route; nothing of A (names, ids, tenant id) and
nothing of the internal mapping (the workspace prefix) ever appears in B's answers.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER
from maestro_api.registry.scoping import WORKSPACE_PREFIX, workspace_for

from tests.app.registry.conftest import Tenant, make_run
from tests.mlflow_server import MlflowServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def leaks(a: Tenant, secrets_of_a: list[str], response: httpx.Response) -> list[str]:
    """What of A appears in a response to B. A problem's ``instance`` echoes B's own request path (which B
    typed, so it may hold A's id B guessed): it is left out."""
    text = response.text
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        body = response.json()
        body.pop("instance", None)
        text = json.dumps(body)
    found = [s for s in [*secrets_of_a, str(a.id), a.id.hex] if s in text]
    if WORKSPACE_PREFIX + a.id.hex in text or '"workspace"' in text:
        found.append("workspace")
    return found


async def test_every_registry_route_is_scoped_to_the_callers_tenant(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], mlflow_server: MlflowServer
) -> None:
    a, b = tenants
    tag = uuid.uuid4().hex[:8]
    exp_name, model, model2, dep = f"exp-a-{tag}", f"model-a-{tag}", f"model-a2-{tag}", f"dep-a-{tag}"
    # --- A builds its registry ---
    made = await make_run(api, mlflow_server, a, exp_name)
    exp_id, run_id = made["experiment"]["experiment_id"], made["run"]["run_id"]
    source = f"{made['run']['artifact_uri']}/model"
    assert source.startswith(f"{mlflow_server.artifact_root}/{a.id}/")
    for m in (model, model2):
        r = await api.post("/v1/models", json={"name": m, "tags": {"owner": "a"}}, headers=a.h())
        assert r.status_code == 201, r.text
    r = await api.post(f"/v1/models/{model}/versions", json={"source": source, "run_id": run_id}, headers=a.h())
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "1"
    assert (
        await api.put(f"/v1/models/{model}/aliases/champion", json={"version": "1"}, headers=a.h())
    ).status_code == 200
    r = await api.post(
        "/v1/deployments",
        json={"name": dep, "variants": [{"name": "only", "model": model, "version": "1", "weight": 100}]},
        headers=a.h(),
    )
    assert r.status_code == 201, r.text
    page = await api.get("/v1/models", params={"max_results": 1}, headers=a.h())
    assert page.status_code == 200 and len(page.json()["items"]) == 1
    token_of_a = page.json()["next_page_token"]
    assert token_of_a

    # A sees its own objects, and no internal mapping.
    for path in (f"/v1/experiments/{exp_id}", f"/v1/runs/{run_id}", f"/v1/models/{model}", f"/v1/deployments/{dep}"):
        r = await api.get(path, headers=a.h())
        assert r.status_code == 200, (path, r.text)
        assert WORKSPACE_PREFIX + a.id.hex not in r.text and '"workspace"' not in r.text
    assert (await api.get(f"/v1/runs/{run_id}", headers=a.h())).json()["metrics"] == {"auc": 0.9}

    secrets_of_a = [exp_name, model, model2, run_id, dep, source]
    hb = b.h()
    # --- B: reads by A's ids and names are 404 ---
    for path in (
        f"/v1/experiments/{exp_id}",
        f"/v1/runs/{run_id}",
        f"/v1/models/{model}",
        f"/v1/models/{model}/versions/1",
        f"/v1/models/{model}/aliases/champion",
        f"/v1/deployments/{dep}",
        f"/v1/deployments/{dep}/route?key=k",
    ):
        r = await api.get(path, headers=hb)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert not leaks(a, secrets_of_a, r), path
    # --- B: searches with A's names in filters, A's experiment ids, A's page token: only B's (none) ---
    checks = [
        await api.get("/v1/experiments", params={"filter": f"name = '{exp_name}'"}, headers=hb),
        await api.get("/v1/experiments", headers=hb),
        await api.get("/v1/models", params={"filter": f"name LIKE '%{tag}%'"}, headers=hb),
        await api.get("/v1/models", headers=hb),
        await api.get("/v1/models", params={"page_token": token_of_a, "max_results": 1}, headers=hb),
        await api.get(f"/v1/models/{model}/versions", headers=hb),
        await api.post("/v1/runs/search", json={"experiment_ids": [exp_id]}, headers=hb),
        await api.post("/v1/runs/search", json={"experiment_ids": [exp_id], "filter": "metrics.auc > 0"}, headers=hb),
        await api.get("/v1/deployments", headers=hb),
        # a client-sent workspace header is never forwarded
        await api.get("/v1/models", headers={**hb, WORKSPACE_HEADER: workspace_for(a.id)}),
    ]
    for r in checks:
        assert r.status_code == 200, (r.request.url, r.text)
        assert r.json()["items"] == [], (r.request.url, r.text)
        assert not leaks(a, secrets_of_a, r), r.request.url
    # --- B: every mutation aimed at A's objects is 404 (or 422) and changes nothing of A ---
    mutations = [
        api.patch(f"/v1/experiments/{exp_id}", json={"name": "stolen"}, headers=hb),
        api.put(f"/v1/experiments/{exp_id}/tags/x", json={"value": "y"}, headers=hb),
        api.delete(f"/v1/experiments/{exp_id}", headers=hb),
        api.patch(f"/v1/models/{model}", json={"description": "stolen"}, headers=hb),
        api.put(f"/v1/models/{model}/tags/x", json={"value": "y"}, headers=hb),
        api.delete(f"/v1/models/{model}/tags/owner", headers=hb),
        api.post(
            f"/v1/models/{model}/versions", json={"source": f"{mlflow_server.artifact_root}/{b.id}/x"}, headers=hb
        ),
        api.patch(f"/v1/models/{model}/versions/1", json={"description": "stolen"}, headers=hb),
        api.put(f"/v1/models/{model}/versions/1/tags/x", json={"value": "y"}, headers=hb),
        api.delete(f"/v1/models/{model}/versions/1/tags/x", headers=hb),
        api.post(f"/v1/models/{model}/versions/1/promote", json={}, headers=hb),
        api.put(f"/v1/models/{model}/aliases/champion", json={"version": "1"}, headers=hb),
        api.delete(f"/v1/models/{model}/aliases/champion", headers=hb),
        api.delete(f"/v1/models/{model}/versions/1", headers=hb),
        api.delete(f"/v1/models/{model}", headers=hb),
        api.put(
            f"/v1/deployments/{dep}/variants",
            json={"variants": [{"name": "x", "model": model, "version": "1", "weight": 100}]},
            headers=hb,
        ),
        api.delete(f"/v1/deployments/{dep}", headers=hb),
    ]
    for call in mutations:
        r = await call
        assert r.status_code in (404, 422), (r.request.method, r.request.url, r.status_code, r.text)
        assert not leaks(a, secrets_of_a, r), r.request.url
    # B may not point a version of its own model at A's run or A's artifacts, nor deploy A's version.
    assert (await api.post("/v1/models", json={"name": model}, headers=hb)).status_code == 201  # same name: fine
    for body in ({"source": source, "run_id": run_id}, {"source": source}):
        r = await api.post(f"/v1/models/{model}/versions", json=body, headers=hb)
        assert r.status_code == 422, r.text
    r = await api.post(
        "/v1/deployments",
        json={"name": "b-dep", "variants": [{"name": "v", "model": model2, "version": "1", "weight": 100}]},
        headers=hb,
    )
    assert r.status_code == 422, r.text
    # B's same-named model is B's own: empty, and A's is untouched.
    rb = await api.get(f"/v1/models/{model}", headers=hb)
    assert rb.status_code == 200 and rb.json()["latest_versions"] == [] and rb.json()["tags"] == {}
    ra = await api.get(f"/v1/models/{model}", headers=a.h())
    assert ra.json()["aliases"] == {"champion": "1"} and ra.json()["tags"] == {"owner": "a"}
    assert ra.json().get("description") in (None, "")
    re_ = await api.get(f"/v1/experiments/{exp_id}", headers=a.h())
    assert re_.json()["name"] == exp_name and re_.json()["lifecycle_stage"] == "active"
    assert (await api.get(f"/v1/deployments/{dep}", headers=a.h())).json()["variants"][0]["name"] == "only"


async def test_version_sources_outside_the_tenant_root_are_refused(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], mlflow_server: MlflowServer
) -> None:
    a, b = tenants
    made = await make_run(api, mlflow_server, a, f"exp-{uuid.uuid4().hex[:6]}")
    good = f"{made['run']['artifact_uri']}/model"
    assert (await api.post("/v1/models", json={"name": "churn"}, headers=a.h())).status_code == 201
    root = mlflow_server.artifact_root
    bad = [
        f"{root}/{b.id}/1/x/artifacts/model",
        f"{root}/{a.id}/../{b.id}/model",
        f"{root}/{a.id}",
        "http://169.254.169.254/latest/meta-data/",
        "s3://someone-elses-bucket/model",
        f"runs:/{made['run']['run_id']}/model",
        "models:/churn/1",
        "file:///etc/passwd",
    ]
    for source in bad:
        r = await api.post(
            "/v1/models/churn/versions", json={"source": source, "run_id": made["run"]["run_id"]}, headers=a.h()
        )
        assert r.status_code == 422, (source, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.post(
        "/v1/models/churn/versions", json={"source": good, "run_id": made["run"]["run_id"]}, headers=a.h()
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"] == good
    versions = await api.get("/v1/models/churn/versions", headers=a.h())
    assert [v["source"] for v in versions.json()["items"]] == [good]
