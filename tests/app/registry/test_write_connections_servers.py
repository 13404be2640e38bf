"""Registry writes hold no database connection while MLflow works; the audit event follows in a short transaction.

Each MLflow call of a write is slowed down and the pool's checked-out count read during it: 0 means the request
holds no connection (the session is lazy, see maestro_api.core.db). The audit semantics stay: a success is
audited with the write, a failure (MLflow refused) is audited as ``failure``.
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
    assert checked_out["create_registered_model"] == 0
    # MLflow refuses the duplicate: still no connection during the call, and the failure is audited.
    r = await api.post("/v1/models", json={"name": name}, headers=a.h("ml-engineer"))
    assert r.status_code == 409, r.text
    assert checked_out["create_registered_model"] == 0
    r = await api.post("/v1/experiments", json={"name": f"e-{uuid.uuid4().hex[:6]}"}, headers=a.h("data-scientist"))
    assert r.status_code == 201, r.text
    assert checked_out["create_experiment"] == 0
    assert engine.pool.checkedout() == 0

    events = (await api.get("/v1/audit-events", params={"limit": 50}, headers=a.h())).json()["items"]
    mine = [(e["action"], e["outcome"]) for e in events if e["target"] in (f"model:{name}", "POST /v1/models")]
    assert ("models:create", "success") in mine and ("models:create", "failure") in mine
