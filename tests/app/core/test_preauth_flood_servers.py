"""Before authentication, as the attacker: `maestro-api serve` (a subprocess, real PostgreSQL and Redis) under a
flood of 2,000 concurrent well-formed guessed API keys (each its own, so no cache helps) still serves a real tenant
every request it makes meanwhile. Two floods: from one address (the per-address failure limit answers it 429
in Redis after a few lookups), and as if from many (that limit lifted: the bounded lane of first-seen keys answers
it 503 fast, on its own small pool). The real tenant's key, seen valid before, is re-checked on its own lane and its
requests use the request pool, which the flood never touches.

The measurements (the real tenant's success and latency without and during the flood, what the flood got) are
printed; `pytest -s` shows them. docs/api.md records a run."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from maestro_api.core.config import Settings

from maestro.paths import ROOT
from tests.app.conftest import LiveServer, auth, bootstrap, served

pytestmark = pytest.mark.servers

FLOOD = 2_000
REAL_REQUESTS = 100
REAL_CONCURRENCY = 4  # below the request pool (5): the real tenant alone never waits for a connection


@dataclass
class Sample:
    """What a run of requests got: statuses and, for the 200s, latencies in seconds."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)

    @property
    def served(self) -> float:
        total = sum(self.statuses.values())
        return self.statuses[200] / total if total else 0.0

    def summary(self) -> str:
        lat = sorted(self.latencies) or [0.0]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return (
            f"served {self.served:.1%} of {sum(self.statuses.values())}, statuses {dict(self.statuses)}, "
            f"p50 {statistics.median(lat) * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms, max {lat[-1] * 1e3:.0f} ms"
            + (f", refusals {dict(self.refusals)}" if self.refusals else "")
        )


async def real_tenant(url: str, key: str, *, requests: int = 0, during: asyncio.Task[Any] | None = None) -> Sample:
    """The real tenant's requests (a list that needs the database) from an address of its own (127.0.0.2):
    ``requests`` of them, or as many as fit while ``during`` runs."""
    sample = Sample()
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    left = [requests]

    def more() -> bool:
        left[0] -= 1
        return left[0] >= 0 if during is None else not during.done()

    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=120) as client:

        async def worker() -> None:
            while more():
                start = time.perf_counter()
                try:
                    r = await client.get("/v1/users", headers=auth(key))
                except httpx.HTTPError:
                    sample.statuses[0] += 1
                    continue
                sample.statuses[r.status_code] += 1
                if r.status_code == 200:
                    sample.latencies.append(time.perf_counter() - start)
                else:
                    sample.refusals[r.text] += 1

        await asyncio.gather(*(worker() for _ in range(REAL_CONCURRENCY)))
    return sample


async def flood(url: str) -> Counter[int]:
    """``FLOOD`` clients at once with guessed keys, from a process of their own (tests/app/flood.py)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.app.flood", url, str(FLOOD), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return Counter({int(k): v for k, v in json.loads(out).items()})


async def measure(server: LiveServer, key: str) -> tuple[Sample, Sample, Counter[int]]:
    """(the real tenant without a flood, the real tenant during the flood, the flood's statuses)."""
    await real_tenant(server.url, key, requests=20)  # warm: the key is seen valid, connections open
    quiet = await real_tenant(server.url, key, requests=REAL_REQUESTS)
    attack = asyncio.create_task(flood(server.url))
    during = await real_tenant(server.url, key, during=attack)
    return quiet, during, await attack


@pytest.fixture
def server(request: pytest.FixtureRequest, api_settings: Settings) -> Iterator[tuple[LiveServer, str]]:
    overrides: dict[str, Any] = {
        # A small request pool, so that a flood reaching it would show at once.
        "database_pool_size": 5,
        "database_max_overflow": 0,
        "database_pool_timeout_seconds": 2,
        "auth_cache_ttl_seconds": 5,
        **request.param,
    }
    settings = api_settings.model_copy(update=overrides)
    key = asyncio.run(bootstrap(settings, "acme"))
    env = {
        "MAESTRO_DATABASE_POOL_SIZE": "5",
        "MAESTRO_DATABASE_MAX_OVERFLOW": "0",
        "MAESTRO_DATABASE_POOL_TIMEOUT_SECONDS": "2",
        **{f"MAESTRO_{k.upper()}": str(v) for k, v in request.param.items()},
    }
    with served(settings, env) as live:
        yield live, key


@pytest.mark.parametrize(
    "server",
    [{}, {"auth_failure_limit": 100_000}],
    ids=["from-one-address", "from-many-addresses"],
    indirect=True,
)
def test_a_flood_of_guessed_keys_does_not_starve_a_real_tenant(
    server: tuple[LiveServer, str], request: pytest.FixtureRequest
) -> None:
    live, key = server
    quiet, during, attack = asyncio.run(measure(live, key))
    print(f"\n[{request.node.callspec.id}] without a flood: {quiet.summary()}")
    print(f"[{request.node.callspec.id}] during the flood: {during.summary()}")
    print(f"[{request.node.callspec.id}] the flood got: {dict(attack)} ({sum(attack.values())} requests)")
    print("server log (tail):", *live.log.read_text().splitlines()[-5:], sep="\n  ")
    assert quiet.served == 1.0, quiet.summary()
    assert during.served == 1.0 and sum(during.statuses.values()) >= REAL_CONCURRENCY, during.summary()
    # The flood got in nowhere, and was refused before the request pool: 401 (looked up), 429, 503.
    assert attack[200] == 0 and set(attack) <= {401, 429, 503}, attack
    assert sum(attack.values()) == FLOOD
