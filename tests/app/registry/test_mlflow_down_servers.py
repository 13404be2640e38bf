"""With MLflow down, registry routes answer 503 problem+json quickly; everything else keeps working."""

from __future__ import annotations

import time

import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import app_client, auth, bootstrap, readiness
from tests.servers import free_port

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


@pytest.mark.parametrize("dead", ["refused", "blackhole"])
async def test_registry_answers_503_quickly_and_the_rest_keeps_working(api_settings: Settings, dead: str) -> None:
    if dead == "refused":
        url, timeout = f"http://127.0.0.1:{free_port()}", 1.0
    else:
        # 192.0.2.0/24 is TEST-NET-1: nothing answers, so connecting hangs until the timeout.
        url, timeout = "http://192.0.2.1:5000", 0.5
    settings = api_settings.model_copy(update={"mlflow_url": url, "mlflow_timeout_seconds": timeout})
    key = await bootstrap(settings, "acme")
    async with app_client(settings) as api:
        for method, path, body in [
            ("GET", "/v1/models/m", None),
            ("GET", "/v1/models", None),
            ("POST", "/v1/models", {"name": "m"}),
            ("GET", "/v1/experiments", None),
            ("POST", "/v1/runs/search", {"experiment_ids": ["1"]}),
        ]:
            started = time.monotonic()
            r = await api.request(method, path, json=body, headers=auth(key))
            elapsed = time.monotonic() - started
            assert r.status_code == 503, (path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["retry-after"]
            assert elapsed < 10, elapsed  # bounded by the client timeout, not a hung worker
        ready = await api.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "not ready"}
        assert (readiness("mlflow"), readiness("database")) == (0, 1)
        assert (await api.get("/healthz")).status_code == 200
        assert (await api.get("/v1/roles", headers=auth(key))).status_code == 200
        assert (await api.get("/v1/deployments", headers=auth(key))).json() == {"items": []}
        metrics = (await api.get("/metrics")).text
        assert "maestro_mlflow_errors_total" in metrics


async def test_readyz_includes_a_healthy_mlflow(registry_settings: Settings) -> None:
    async with app_client(registry_settings) as api:
        ready = await api.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert readiness("mlflow") == 1
