"""An exhausted database pool answers 503 with Retry-After wherever the connection is requested, never a 500."""

from __future__ import annotations

import secrets

import pytest
from maestro_api.core.config import Settings
from sqlalchemy import text

from tests.app.conftest import app_client, auth, bootstrap

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def test_pool_timeout_is_503_with_retry_after_and_recovers(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={"database_pool_size": 1, "database_max_overflow": 0, "database_pool_timeout_seconds": 0.3}
    )
    warm_key = await bootstrap(settings, f"pool-{secrets.token_hex(3)}")
    cold_key = await bootstrap(settings, f"pool-{secrets.token_hex(3)}")
    async with app_client(settings) as c:
        engine = c.app.state.engine  # type: ignore[attr-defined]
        # Authenticated once, so the next request needs the pool only for its session (SessionDep).
        assert (await c.get("/v1/api-keys", headers=auth(warm_key))).status_code == 200
        assert engine.pool.checkedout() == 0
        async with engine.connect() as held:  # what a slow request holds: the pool's only connection
            await held.execute(text("SELECT 1"))
            assert engine.pool.checkedout() == 1
            # SessionDep cannot get a connection.
            r = await c.get("/v1/api-keys", headers=auth(warm_key))
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "1"
            assert "connections are busy" in r.json()["detail"]
            # Authentication of a key not yet cached cannot either.
            r = await c.get("/v1/api-keys", headers=auth(cold_key))
            assert (r.status_code, r.headers["retry-after"]) == (503, "1"), r.text
            # Under /mlflow the same refusal comes in MLflow's shape, which the stock client reads.
            r = await c.get("/mlflow/api/2.0/mlflow/experiments/get?experiment_id=1", headers=auth(cold_key))
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        # Released: both are served again.
        assert (await c.get("/v1/api-keys", headers=auth(warm_key))).status_code == 200
        assert (await c.get("/v1/api-keys", headers=auth(cold_key))).status_code == 200
