"""Fixtures of the registry tests: a real MLflow server, settings pointing at it, and two tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER
from maestro_api.registry.scoping import workspace_for
from sqlalchemy.engine import make_url

from tests.app.conftest import app_client, auth, bootstrap, superuser_conn
from tests.mlflow_server import MlflowServer, mlflow_server
from tests.servers import PgServer

__all__ = ["mlflow_server"]

ROLES = ("viewer", "data-scientist", "ml-engineer", "tenant-admin")


@dataclass
class Tenant:
    name: str
    id: uuid.UUID
    keys: dict[str, str]

    def h(self, role: str = "tenant-admin") -> dict[str, str]:
        return auth(self.keys[role])


@pytest.fixture
def registry_settings(api_settings: Settings, mlflow_server: MlflowServer) -> Settings:
    return api_settings.model_copy(
        update={
            "mlflow_url": mlflow_server.url,
            "artifact_root": mlflow_server.artifact_root,
            # Generous bounds: a loaded CI machine must not turn a slow MLflow into a 503 or expire the cache early.
            "mlflow_timeout_seconds": 30.0,
            "registry_cache_ttl_seconds": 10.0,
        }
    )


@pytest.fixture
async def api(registry_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(registry_settings) as c:
        yield c


async def make_tenant(settings: Settings, pg_server: PgServer, dbname: str, name: str) -> Tenant:
    keys = {role: await bootstrap(settings, name, role=role) for role in ROLES}
    with superuser_conn(pg_server, dbname) as conn:
        row = conn.execute("SELECT id FROM tenants WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return Tenant(name=name, id=row[0], keys=keys)


def database_of(settings: Settings) -> str:
    return str(make_url(settings.database_url).database)


async def make_two_tenants(settings: Settings, pg_server: PgServer) -> tuple[Tenant, Tenant]:
    """Two fresh tenants, alpha-* and bravo-*, each with a key per role."""
    db = database_of(settings)
    a = await make_tenant(settings, pg_server, db, f"alpha-{uuid.uuid4().hex[:6]}")
    b = await make_tenant(settings, pg_server, db, f"bravo-{uuid.uuid4().hex[:6]}")
    return a, b


@pytest.fixture
async def tenants(registry_settings: Settings, pg_server: PgServer) -> tuple[Tenant, Tenant]:
    return await make_two_tenants(registry_settings, pg_server)


def mlflow_direct(mlflow: MlflowServer, tenant: Tenant, method: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
    """Talk to MLflow directly in the tenant's workspace, as a training job (or an operator) would."""
    r = httpx.request(
        method,
        f"{mlflow.url}/api/2.0/mlflow/{endpoint}",
        headers={WORKSPACE_HEADER: workspace_for(tenant.id)},
        timeout=30,
        **kwargs,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def make_run(api: httpx.AsyncClient, mlflow: MlflowServer, tenant: Tenant, experiment: str) -> dict[str, Any]:
    """An experiment (through the API) with one run (directly in MLflow) in the tenant."""
    r = await api.post("/v1/experiments", json={"name": experiment, "tags": {"team": "t"}}, headers=tenant.h())
    assert r.status_code == 201, r.text
    exp = r.json()
    run = mlflow_direct(mlflow, tenant, "POST", "runs/create", json={"experiment_id": exp["experiment_id"]})
    info: dict[str, Any] = run["run"]["info"]
    mlflow_direct(
        mlflow,
        tenant,
        "POST",
        "runs/log-metric",
        json={"run_id": info["run_id"], "key": "auc", "value": 0.9, "timestamp": 1},
    )
    return {"experiment": exp, "run": info}
