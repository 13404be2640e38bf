"""Rate limits on a real Redis: the boundary of the per-key and per-tenant limits, the 429 headers, tier
separation, and the documented behaviour when Redis is down (fail open / fail closed) with a Redis we stop."""

import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from maestro_api.core.config import Settings, TierLimits
from maestro_api.metrics import REGISTRY

from tests.app.conftest import app_client, auth, bootstrap, readiness, small_limits
from tests.servers import REDIS_SERVER, free_port

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def rejections(tier: str, scope: str) -> float:
    return REGISTRY.get_sample_value("maestro_rate_limit_rejections_total", {"tier": tier, "scope": scope}) or 0.0


async def test_per_key_limit_boundary_and_429_headers(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"rate_limits": small_limits(per_key=5, per_tenant=100)})
    key = await bootstrap(settings, "acme", tier="standard")
    before = rejections("standard", "key")
    async with app_client(settings) as c:
        for i in range(5):
            assert (await c.get("/v1/roles", headers=auth(key))).status_code == 200, i
        r = await c.get("/v1/roles", headers=auth(key))
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["ratelimit-limit"] == "5"
    assert r.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(r.headers["ratelimit-reset"]) <= 60
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert rejections("standard", "key") == before + 1


async def test_per_tenant_limit_spans_the_tenants_keys_but_not_other_tenants(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"rate_limits": small_limits(per_key=100, per_tenant=6)})
    k1 = await bootstrap(settings, "acme", tier="premium")
    k2 = await bootstrap(settings, "acme", tier="premium")
    other = await bootstrap(settings, "globex", tier="premium")
    before = rejections("premium", "tenant")
    async with app_client(settings) as c:
        for _ in range(3):
            assert (await c.get("/v1/roles", headers=auth(k1))).status_code == 200
            assert (await c.get("/v1/roles", headers=auth(k2))).status_code == 200
        r = await c.get("/v1/roles", headers=auth(k2))
        assert r.status_code == 429 and r.headers["ratelimit-limit"] == "6"
        assert (await c.get("/v1/roles", headers=auth(other))).status_code == 200
    assert rejections("premium", "tenant") == before + 1


async def test_tiers_have_different_limits(api_settings: Settings) -> None:
    limits = {
        "free": TierLimits(per_key=2, per_tenant=100),
        "standard": TierLimits(per_key=4, per_tenant=100),
        "premium": TierLimits(per_key=50, per_tenant=100),
        "enterprise": TierLimits(per_key=50, per_tenant=100),
    }
    settings = api_settings.model_copy(update={"rate_limits": limits})
    free = await bootstrap(settings, "small", tier="free")
    standard = await bootstrap(settings, "medium", tier="standard")
    async with app_client(settings) as c:
        free_codes = [(await c.get("/v1/roles", headers=auth(free))).status_code for _ in range(4)]
        std_codes = [(await c.get("/v1/roles", headers=auth(standard))).status_code for _ in range(5)]
    assert free_codes == [200, 200, 429, 429]
    assert std_codes == [200, 200, 200, 200, 429]


async def test_the_window_slides(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"rate_limits": small_limits(per_key=2, per_tenant=100, window=2)})
    key = await bootstrap(settings, "acme")
    async with app_client(settings) as c:
        assert [(await c.get("/v1/roles", headers=auth(key))).status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(4.1)  # two full windows later the weighted count is back to zero
        assert (await c.get("/v1/roles", headers=auth(key))).status_code == 200


@pytest.fixture
def doomed_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own, which the test stops."""
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", proc
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_redis_down(api_settings: Settings, doomed_redis: tuple[str, subprocess.Popen[bytes]], mode: str) -> None:
    url, proc = doomed_redis
    settings = api_settings.model_copy(update={"redis_url": url, "rate_limit_failure_mode": mode})
    key = await bootstrap(settings, "acme")
    before = REGISTRY.get_sample_value("maestro_rate_limit_backend_errors_total") or 0.0
    async with app_client(settings) as c:
        assert (await c.get("/v1/roles", headers=auth(key))).status_code == 200
        # (Other parts add readiness checks, e.g. MLflow, which has no server here: look at ours only.)
        await c.get("/readyz")
        assert readiness("redis") == 1
        proc.terminate()
        proc.wait(timeout=10)
        r = await c.get("/v1/roles", headers=auth(key))
        ready = await c.get("/readyz")
    if mode == "open":
        assert r.status_code == 200
    else:
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert "fail closed" in r.json()["detail"]
    assert (REGISTRY.get_sample_value("maestro_rate_limit_backend_errors_total") or 0.0) == before + 1
    assert ready.status_code == 503 and ready.json() == {"status": "not ready"}
    assert (readiness("redis"), readiness("database")) == (0, 1)
