"""Against a real MLflow: RBAC on registry routes, audit of mutations, cache semantics, A/B deployments."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from maestro_api.metrics import DEPLOYMENT_ROUTE, REGISTRY_CACHE_REQUESTS

from tests.app.registry.conftest import Tenant, make_run, mlflow_direct
from tests.mlflow_server import MlflowServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def cache_count(result: str) -> float:
    return REGISTRY_CACHE_REQUESTS.labels(result=result)._value.get()  # type: ignore[attr-defined, no-any-return]


async def test_rbac_viewer_reads_data_scientist_versions_ml_engineer_aliases_admin_deletes(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], mlflow_server: MlflowServer
) -> None:
    a, _ = tenants
    made = await make_run(api, mlflow_server, a, f"exp-{uuid.uuid4().hex[:6]}")
    source, run_id = f"{made['run']['artifact_uri']}/model", made["run"]["run_id"]
    version_body = {"source": source, "run_id": run_id}

    # viewer: reads only
    assert (await api.post("/v1/models", json={"name": "m"}, headers=a.h("viewer"))).status_code == 403
    assert (await api.post("/v1/models", json={"name": "m"}, headers=a.h("ml-engineer"))).status_code == 201
    assert (await api.get("/v1/models/m", headers=a.h("viewer"))).status_code == 200
    assert (await api.post("/v1/models/m/versions", json=version_body, headers=a.h("viewer"))).status_code == 403
    # data scientist: creates versions, cannot move aliases or promote
    r = await api.post("/v1/models/m/versions", json=version_body, headers=a.h("data-scientist"))
    assert r.status_code == 201, r.text
    ds = a.h("data-scientist")
    assert (await api.put("/v1/models/m/aliases/champion", json={"version": "1"}, headers=ds)).status_code == 403
    assert (await api.post("/v1/models/m/versions/1/promote", json={}, headers=ds)).status_code == 403
    # ml engineer: aliases, promotion, deployments; no deletes of models
    ml = a.h("ml-engineer")
    assert (await api.put("/v1/models/m/aliases/challenger", json={"version": "1"}, headers=ml)).status_code == 200
    r = await api.post("/v1/models/m/versions/1/promote", json={}, headers=ml)
    assert r.status_code == 200 and "champion" in r.json()["aliases"], r.text
    assert (await api.get("/v1/models/m/aliases/champion", headers=a.h("viewer"))).json()["version"] == "1"
    dep = {"name": "d", "variants": [{"name": "v1", "model": "m", "version": "1", "weight": 100}]}
    assert (await api.post("/v1/deployments", json=dep, headers=ds)).status_code == 403
    assert (await api.post("/v1/deployments", json=dep, headers=ml)).status_code == 201
    assert (await api.delete("/v1/models/m", headers=ml)).status_code == 403
    assert (await api.delete("/v1/models/m/aliases/challenger", headers=ml)).status_code == 204
    # tenant admin deletes
    assert (await api.delete("/v1/models/m/versions/1", headers=a.h())).status_code == 204
    assert (await api.delete("/v1/models/m", headers=a.h())).status_code == 204
    assert (await api.get("/v1/models/m", headers=a.h())).status_code == 404
    # every mutation and every denial is in the audit log
    events = (await api.get("/v1/audit-events", params={"limit": 200}, headers=a.h())).json()["items"]
    seen = {(e["action"], e["outcome"]) for e in events}
    for expected in [
        ("models:create", "denied"),
        ("models:create", "success"),
        ("versions:create", "success"),
        ("aliases:set", "denied"),
        ("aliases:set", "success"),
        ("models:promote", "success"),
        ("deployments:create", "success"),
        ("models:delete", "denied"),
        ("aliases:delete", "success"),
        ("versions:delete", "success"),
        ("models:delete", "success"),
        ("experiments:create", "success"),
    ]:
        assert expected in seen, expected


async def test_cache_hits_invalidation_by_api_writes_and_ttl_for_direct_mlflow_writes(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], mlflow_server: MlflowServer
) -> None:
    a, b = tenants
    assert (
        await api.post("/v1/models", json={"name": "cached", "description": "v0"}, headers=a.h())
    ).status_code == 201
    hits, misses = cache_count("hit"), cache_count("miss")
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "v0"
    assert cache_count("miss") == misses + 1
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "v0"
    assert cache_count("hit") == hits + 1
    # a write through the API invalidates: the next read sees it at once
    r = await api.patch("/v1/models/cached", json={"description": "v1"}, headers=a.h())
    assert r.status_code == 200 and r.json()["description"] == "v1"
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "v1"
    # the cache is per tenant: B's same-named model is not A's cached entry
    assert (await api.get("/v1/models/cached", headers=b.h())).status_code == 404
    assert (await api.post("/v1/models", json={"name": "cached", "description": "b"}, headers=b.h())).status_code == 201
    assert (await api.get("/v1/models/cached", headers=b.h())).json()["description"] == "b"
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "v1"
    # a write made directly in MLflow is served stale from the cache, then seen once the TTL (10 s) passes
    mlflow_direct(
        mlflow_server, a, "PATCH", "registered-models/update", json={"name": "cached", "description": "direct"}
    )
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "v1"
    for _ in range(120):
        await asyncio.sleep(0.25)
        if (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "direct":
            break
    else:
        pytest.fail("a direct MLflow write stayed invisible after the cache TTL")
    # Cache-Control: no-cache reads from MLflow at once (and refreshes the entry for later reads)
    mlflow_direct(mlflow_server, a, "PATCH", "registered-models/update", json={"name": "cached", "description": "d2"})
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "direct"
    misses = cache_count("miss")
    fresh = await api.get("/v1/models/cached", headers={**a.h(), "Cache-Control": "no-cache"})
    assert fresh.json()["description"] == "d2" and cache_count("miss") == misses + 1
    assert (await api.get("/v1/models/cached", headers=a.h())).json()["description"] == "d2"


async def test_ab_deployment_routes_sticky_per_key_and_counts_variants(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], mlflow_server: MlflowServer
) -> None:
    a, _ = tenants
    made = await make_run(api, mlflow_server, a, f"exp-{uuid.uuid4().hex[:6]}")
    body = {"source": f"{made['run']['artifact_uri']}/model", "run_id": made["run"]["run_id"]}
    assert (await api.post("/v1/models", json={"name": "ranker"}, headers=a.h())).status_code == 201
    for _ in range(2):
        assert (await api.post("/v1/models/ranker/versions", json=body, headers=a.h())).status_code == 201
    variants = [
        {"name": "control", "model": "ranker", "version": "1", "weight": 70},
        {"name": "treatment", "model": "ranker", "version": "2", "weight": 30},
    ]
    bad = [{**variants[0], "weight": 60}, variants[1]]
    assert (await api.post("/v1/deployments", json={"name": "rank", "variants": bad}, headers=a.h())).status_code == 422
    missing = [variants[0], {**variants[1], "version": "9"}]
    r = await api.post("/v1/deployments", json={"name": "rank", "variants": missing}, headers=a.h())
    assert r.status_code == 422
    r = await api.post("/v1/deployments", json={"name": "rank", "variants": variants}, headers=a.h())
    assert r.status_code == 201, r.text
    before = {
        v: DEPLOYMENT_ROUTE.labels(tenant=a.name, deployment="rank", variant=v)._value.get()  # type: ignore[attr-defined]
        for v in ("control", "treatment")
    }
    picks: dict[str, str] = {}
    for i in range(300):
        r = await api.get("/v1/deployments/rank/route", params={"key": f"user-{i}"}, headers=a.h("viewer"))
        assert r.status_code == 200, r.text
        picks[f"user-{i}"] = r.json()["variant"]
        assert r.json()["version"] == ("1" if r.json()["variant"] == "control" else "2")
    assert 150 < list(picks.values()).count("control") < 270  # 70 % of 300, loosely (exact split: unit test)
    for key in ("user-1", "user-2", "user-3"):
        r = await api.get("/v1/deployments/rank/route", params={"key": key}, headers=a.h())
        assert r.json()["variant"] == picks[key]
    after = {
        v: DEPLOYMENT_ROUTE.labels(tenant=a.name, deployment="rank", variant=v)._value.get()  # type: ignore[attr-defined]
        for v in ("control", "treatment")
    }
    assert sum(after.values()) - sum(before.values()) == 303
    assert after["treatment"] > before["treatment"]
    # weights change: ml-engineer may, data scientist may not; the audit records old and new split
    new = [{**variants[0], "weight": 0}, {**variants[1], "weight": 100}]
    r = await api.put("/v1/deployments/rank/variants", json={"variants": new}, headers=a.h("data-scientist"))
    assert r.status_code == 403
    r = await api.put("/v1/deployments/rank/variants", json={"variants": new}, headers=a.h("ml-engineer"))
    assert r.status_code == 200, r.text
    r = await api.get("/v1/deployments/rank/route", params={"key": "user-1"}, headers=a.h())
    assert r.json()["variant"] == "treatment"
    events = (await api.get("/v1/audit-events", params={"limit": 200}, headers=a.h())).json()["items"]
    targets = [e["target"] for e in events if e["action"] == "deployments:route" and e["outcome"] == "success"]
    assert "deployment:rank:weights:control=70,treatment=30->control=0,treatment=100" in targets
    metrics = (await api.get("/metrics")).text
    assert 'maestro_deployment_route_total{deployment="rank"' in metrics
