"""Quotas enforced atomically against real PostgreSQL and MLflow: bursts of concurrent creates, through ``/v1``,
through ``/mlflow`` and through both at once, stop exactly at ``max_models``; deployments at ``max_deployments``.
The refusal names the quota and its limit, and nothing else."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import superuser_conn
from tests.app.registry.conftest import Tenant, database_of, make_run, mlflow_direct
from tests.mlflow_server import MlflowServer
from tests.servers import PgServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

BURST = 10
ML = "/mlflow/api/2.0/mlflow"


def set_quota(pg_server: PgServer, settings: Settings, tenant: Tenant, **limits: int) -> None:
    sets = ", ".join(f"{k} = %({k})s" for k in limits)
    with superuser_conn(pg_server, database_of(settings)) as conn:
        conn.execute(f"UPDATE quotas SET {sets} WHERE tenant_id = %(t)s", {**limits, "t": tenant.id})  # type: ignore[arg-type]


def via_v1(api: httpx.AsyncClient, tenant: Tenant, name: str) -> Any:
    return api.post("/v1/models", json={"name": name}, headers=tenant.h("data-scientist"))


def via_mlflow(api: httpx.AsyncClient, tenant: Tenant, name: str) -> Any:
    return api.post(f"{ML}/registered-models/create", json={"name": name}, headers=tenant.h("data-scientist"))


def models_in_mlflow(mlflow: MlflowServer, tenant: Tenant) -> int:
    found = mlflow_direct(mlflow, tenant, "GET", "registered-models/search", params={"max_results": 1000})
    return len(found.get("registered_models", []))


def assert_v1_refusal(r: httpx.Response, quota: str, limit: int) -> None:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "https://maestro.dev/problems/quota-exceeded"
    assert (body["title"], body["quota"], body["limit"]) == ("Quota exceeded", quota, limit)
    assert str(limit) in body["detail"] and quota in body["detail"]
    assert set(body) == {"type", "title", "status", "detail", "instance", "quota", "limit"}


def assert_mlflow_refusal(r: httpx.Response, quota: str, limit: int) -> None:
    assert (r.status_code, r.json()["error_code"]) == (409, "QUOTA_EXCEEDED"), r.text
    assert quota in r.json()["message"] and str(limit) in r.json()["message"]


@pytest.mark.parametrize("path", ["v1", "mlflow", "both"])
async def test_concurrent_model_creates_stop_exactly_at_the_quota(
    api: httpx.AsyncClient,
    tenants: tuple[Tenant, Tenant],
    mlflow_server: MlflowServer,
    pg_server: PgServer,
    registry_settings: Settings,
    path: str,
) -> None:
    a, b = tenants
    limit = 3
    set_quota(pg_server, registry_settings, a, max_models=limit)
    senders = {"v1": [via_v1], "mlflow": [via_mlflow], "both": [via_v1, via_mlflow]}[path]
    answers = await asyncio.gather(
        *(senders[i % len(senders)](api, a, f"model-{i}") for i in range(BURST))
    )  # fmt: skip
    created = [r for r in answers if r.status_code in (200, 201)]
    refused = [r for r in answers if r.status_code == 409]
    assert (len(created), len(refused)) == (limit, BURST - limit), [(r.status_code, r.text) for r in answers]
    assert models_in_mlflow(mlflow_server, a) == limit
    for r in refused:
        if r.url.path.startswith("/v1"):
            assert_v1_refusal(r, "max_models", limit)
        else:
            assert_mlflow_refusal(r, "max_models", limit)
    # Full: both paths refuse the next one; the other tenant is not affected.
    assert_v1_refusal(await via_v1(api, a, "one-more"), "max_models", limit)
    assert_mlflow_refusal(await via_mlflow(api, a, "one-more"), "max_models", limit)
    assert (await via_v1(api, b, "one-more")).status_code == 201
    # Deleting one (through /mlflow here) frees exactly one place.
    name = created[0].json().get("name") or created[0].json()["registered_model"]["name"]
    r = await api.request("DELETE", f"{ML}/registered-models/delete", json={"name": name}, headers=a.h())
    assert r.status_code == 200, r.text
    assert (await via_mlflow(api, a, "replacement")).status_code == 200
    assert (await via_v1(api, a, "too-many")).status_code == 409


async def test_concurrent_deployment_creates_stop_exactly_at_the_quota(
    api: httpx.AsyncClient,
    tenants: tuple[Tenant, Tenant],
    mlflow_server: MlflowServer,
    pg_server: PgServer,
    registry_settings: Settings,
) -> None:
    a, _ = tenants
    limit = 2
    set_quota(pg_server, registry_settings, a, max_deployments=limit)
    made = await make_run(api, mlflow_server, a, f"exp-{uuid.uuid4().hex[:6]}")
    body = {"source": f"{made['run']['artifact_uri']}/model", "run_id": made["run"]["run_id"]}
    assert (await api.post("/v1/models", json={"name": "m"}, headers=a.h())).status_code == 201
    assert (await api.post("/v1/models/m/versions", json=body, headers=a.h())).status_code == 201
    variants = [{"name": "only", "model": "m", "version": "1", "weight": 100}]
    answers = await asyncio.gather(
        *(
            api.post("/v1/deployments", json={"name": f"d{i}", "variants": variants}, headers=a.h("ml-engineer"))
            for i in range(BURST)
        )
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * limit + [409] * (BURST - limit), [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_v1_refusal(r, "max_deployments", limit)
    listed = (await api.get("/v1/deployments", headers=a.h("viewer"))).json()["items"]
    assert len(listed) == limit
    # Every refusal was audited as a failure of deployments:create.
    events = (await api.get("/v1/audit-events", params={"limit": 200}, headers=a.h())).json()["items"]
    outcomes = [e["outcome"] for e in events if e["action"] == "deployments:create"]
    assert sorted(outcomes) == ["failure"] * (BURST - limit) + ["success"] * limit
