"""One cache, coherent across both paths, against real MLflow and Redis: a change made through ``/mlflow`` is seen
by ``/v1`` at once (no TTL to wait out), a missing alias answers 404 from the first read on, and a read that
fetched the old object before a write cannot store it in the cache after the write."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from maestro_api.core.config import Settings
from maestro_api.registry import operations as ops
from maestro_api.registry.cache import RegistryCache
from maestro_api.registry.mlflow_client import MlflowClient
from maestro_api.registry.service import RegistryService
from redis.asyncio import Redis

from tests.app.registry.conftest import Tenant, make_run

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

ML = "/mlflow/api/2.0/mlflow"


async def proxied(
    api: httpx.AsyncClient, tenant: Tenant, method: str, route: str, role: str = "ml-engineer", **kw: Any
) -> httpx.Response:
    r = await api.request(method, f"{ML}/{route}", headers=tenant.h(role), **kw)
    assert r.status_code == 200, (route, r.text)
    return r


async def test_a_change_through_mlflow_is_seen_on_v1_at_once(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], mlflow_server: Any
) -> None:
    a, _ = tenants
    made = await make_run(api, mlflow_server, a, f"exp-{uuid.uuid4().hex[:6]}")
    run_id = made["run"]["run_id"]
    body = {"source": f"{made['run']['artifact_uri']}/model", "run_id": run_id}
    assert (await api.post("/v1/models", json={"name": "m", "description": "v0"}, headers=a.h())).status_code == 201
    assert (await api.post("/v1/models/m/versions", json=body, headers=a.h())).status_code == 201
    assert (await api.post("/v1/models/m/versions/1/promote", json={}, headers=a.h())).status_code == 200

    # Warm the cache: each read twice (the second is a hit).
    reads = ["/v1/models/m/aliases/champion", "/v1/models/m", f"/v1/runs/{run_id}", "/v1/models/m/versions/1"]
    for path in reads * 2:
        assert (await api.get(path, headers=a.h("viewer"))).status_code == 200, path

    # The alias deleted through /mlflow: /v1 answers 404 at once (not the cached version, not a 422 later).
    await proxied(api, a, "DELETE", "registered-models/alias", json={"name": "m", "alias": "champion"})
    gone = await api.get("/v1/models/m/aliases/champion", headers=a.h("viewer"))
    assert (gone.status_code, gone.json()["detail"]) == (404, "No such alias of this model."), gone.text
    assert (await api.get("/v1/models/m", headers=a.h("viewer"))).json()["aliases"] == {}
    assert (await api.get("/v1/models/m/versions/1", headers=a.h("viewer"))).json()["aliases"] == []
    # And the same read through /mlflow: MLflow's code for a missing object.
    r = await api.get(f"{ML}/registered-models/alias", params={"name": "m", "alias": "champion"}, headers=a.h())
    assert (r.status_code, r.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")

    # A description, a tag and a metric changed through /mlflow: all visible on /v1 at once.
    await proxied(api, a, "PATCH", "registered-models/update", json={"name": "m", "description": "via mlflow"})
    tag = {"name": "m", "version": "1", "key": "k", "value": "v"}
    await proxied(api, a, "POST", "model-versions/set-tag", json=tag)
    await proxied(api, a, "POST", "runs/log-metric", json={"run_id": run_id, "key": "f1", "value": 0.5, "timestamp": 2})
    assert (await api.get("/v1/models/m", headers=a.h("viewer"))).json()["description"] == "via mlflow"
    assert (await api.get("/v1/models/m/versions/1", headers=a.h("viewer"))).json()["tags"] == {"k": "v"}
    assert (await api.get(f"/v1/runs/{run_id}", headers=a.h("viewer"))).json()["metrics"]["f1"] == 0.5

    # The model deleted through /mlflow: /v1 answers 404 at once.
    await proxied(api, a, "DELETE", "model-versions/delete", "tenant-admin", json={"name": "m", "version": "1"})
    await proxied(api, a, "DELETE", "registered-models/delete", "tenant-admin", json={"name": "m"})
    assert (await api.get("/v1/models/m", headers=a.h("viewer"))).status_code == 404


async def test_only_the_changed_family_is_dropped(api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]) -> None:
    """A training job logging through /mlflow drops the tenant's cached runs, not the models serving clients poll."""
    a, _ = tenants
    app: Any = api.app  # type: ignore[attr-defined]
    redis: Redis = app.state.redis
    assert (await api.post("/v1/models", json={"name": "served"}, headers=a.h())).status_code == 201
    assert (await api.get("/v1/models/served", headers=a.h("viewer"))).status_code == 200
    models_key = f"maestro:registry:{a.id}:models"
    generation = await redis.hget(models_key, "_gen")  # type: ignore[misc]
    assert await redis.hexists(models_key, "model:served")  # type: ignore[misc]
    exp = (await proxied(api, a, "POST", "experiments/create", json={"name": uuid.uuid4().hex})).json()
    run = (await proxied(api, a, "POST", "runs/create", json={"experiment_id": exp["experiment_id"]})).json()
    run_id = run["run"]["info"]["run_id"]
    await proxied(api, a, "POST", "runs/log-metric", json={"run_id": run_id, "key": "loss", "value": 1, "timestamp": 1})
    assert await redis.hget(models_key, "_gen") == generation  # type: ignore[misc]
    assert await redis.hexists(models_key, "model:served")  # type: ignore[misc]
    assert await redis.hget(f"maestro:registry:{a.id}:runs", "_gen") is not None  # type: ignore[misc]


class GatedTransport(httpx.AsyncBaseTransport):
    """Real HTTP to MLflow; the answer to one endpoint is held back (after MLflow produced it) until released."""

    def __init__(self, gated_path: str) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.gated_path = gated_path
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path.endswith(self.gated_path) and not self.release.is_set():
            await response.aread()
            self.answered.set()
            await self.release.wait()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_read_that_raced_a_write_cannot_put_the_old_object_back(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], registry_settings: Settings
) -> None:
    a, _ = tenants
    created = await api.post("/v1/models", json={"name": "raced", "description": "old"}, headers=a.h())
    assert created.status_code == 201
    # A second API process: same MLflow, same Redis, its reads of the model held back once MLflow has answered.
    gate = GatedTransport("/registered-models/get")
    client = MlflowClient(base_url=registry_settings.mlflow_url, timeout_seconds=30, transport=gate)
    redis = Redis.from_url(registry_settings.redis_url)
    slow = RegistryService(
        client=client, cache=RegistryCache(redis, ttl_seconds=60), artifact_root=registry_settings.artifact_root
    )
    try:
        read = asyncio.create_task(slow.run(ops.GET_MODEL, a.id, name="raced"))
        await asyncio.wait_for(gate.answered.wait(), 30)  # MLflow answered "old"; the fill is pending
        await proxied(api, a, "PATCH", "registered-models/update", json={"name": "raced", "description": "new"})
        gate.release.set()
        assert orjson.loads(await read)["description"] == "old"  # concurrent with the write: either answer is right
        # ...but it was not stored: every later read, cached or not, sees the write.
        for _ in range(2):
            assert (await api.get("/v1/models/raced", headers=a.h("viewer"))).json()["description"] == "new"
            assert orjson.loads(await slow.run(ops.GET_MODEL, a.id, name="raced"))["description"] == "new"
    finally:
        await client.aclose()
        await redis.aclose()
