"""Registry writes hold no database connection while MLflow works; the audit event follows in a short transaction.

Each MLflow call of a write is slowed down and the pool's checked-out count read during it: 0 means the request
holds no connection (the session is lazy, see maestro_api.core.db). The audit semantics stay: a success is
audited with the write, a failure (MLflow refused) is audited as ``failure``. The one exception is registering a
model: it holds the tenant's quota row (registry/quotas.py), so one connection, never one per concurrent create.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.app.registry.conftest import Tenant

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def test_a_slow_mlflow_write_holds_no_db_connection_and_is_audited(
    api: httpx.AsyncClient, tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = tenants
    app: Any = api.app  # type: ignore[attr-defined]
    engine = app.state.engine
    client = app.state.registry.client
    real_call = client.call
    checked_out: dict[str, int] = {}

    async def slow_call(method: str, endpoint: str, **kwargs: Any) -> Any:
        await asyncio.sleep(0.2)  # MLflow "working": the pool is sampled meanwhile
        checked_out[kwargs["operation"]] = engine.pool.checkedout()
        return await real_call(method, endpoint, **kwargs)

    monkeypatch.setattr(client, "call", slow_call)
    name = f"m-{uuid.uuid4().hex[:6]}"
    # The probe sees a held connection when there is one.
    async with engine.connect():
        assert engine.pool.checkedout() == 1

    r = await api.post("/v1/models", json={"name": name}, headers=a.h("ml-engineer"))
    assert r.status_code == 201, r.text
    assert checked_out["create_registered_model"] == 1  # the quota row, held until MLflow has created it
    # MLflow refuses the duplicate, and the failure is audited.
    r = await api.post("/v1/models", json={"name": name}, headers=a.h("ml-engineer"))
    assert r.status_code == 409, r.text
    r = await api.patch(f"/v1/models/{name}", json={"description": "d"}, headers=a.h("ml-engineer"))
    assert r.status_code == 200, r.text
    assert checked_out["update_registered_model"] == 0
    r = await api.post("/v1/experiments", json={"name": f"e-{uuid.uuid4().hex[:6]}"}, headers=a.h("data-scientist"))
    assert r.status_code == 201, r.text
    assert checked_out["create_experiment"] == 0
    assert engine.pool.checkedout() == 0

    # A burst of creates in one tenant queues in the process: at most one connection waits for the quota row
    # (two for a moment, while the previous create commits), not one per request.
    burst: list[int] = []

    async def sampled_call(method: str, endpoint: str, **kwargs: Any) -> Any:
        await asyncio.sleep(0.1)
        burst.append(engine.pool.checkedout())
        return await real_call(method, endpoint, **kwargs)

    monkeypatch.setattr(client, "call", sampled_call)
    created = await asyncio.gather(
        *(api.post("/v1/models", json={"name": f"{name}-{i}"}, headers=a.h("ml-engineer")) for i in range(6))
    )
    assert [r.status_code for r in created] == [201] * 6
    assert burst and max(burst) <= 2, burst

    events = (await api.get("/v1/audit-events", params={"limit": 50}, headers=a.h())).json()["items"]
    mine = [(e["action"], e["outcome"]) for e in events if e["target"] in (f"model:{name}", "POST /v1/models")]
    assert ("models:create", "success") in mine and ("models:create", "failure") in mine
