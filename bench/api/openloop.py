"""A small open-loop load generator: requests start at a fixed arrival rate, whatever the server does.

wrk (closed loop) cannot hold a fixed rate and wrk2 is not in Debian, so this measures "latency at a fixed
arrival rate". Each request's latency is measured from its *scheduled* start, so a stalled server shows up as
queueing delay instead of silently lowering the rate (no coordinated omission). In-flight requests are bounded
(``max_in_flight``); a request that has not completed ``timeout`` seconds after its scheduled start counts as an
error, so the run ends ``duration + timeout`` seconds after it starts at the latest.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass

import httpx


@dataclass
class OpenLoopResult:
    rate_target: float
    duration_s: float
    sent: int
    ok: int
    errors: int
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def open_loop(
    *,
    url: str,
    method: str,
    headers: dict[str, str],
    body: bytes | None,
    rate: float,
    duration: float,
    max_in_flight: int = 256,
    timeout: float = 5.0,
) -> OpenLoopResult:
    n = int(rate * duration)
    latencies: list[float] = []
    errors = 0
    gate = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2

        async def one(i: int) -> None:
            nonlocal errors
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            try:
                # Waiting for a free slot counts against the same deadline: the run ends by duration + timeout.
                async with asyncio.timeout(max(0.001, scheduled + timeout - loop.time())), gate:
                    r = await client.request(method, url, headers=headers, content=body)
            except (TimeoutError, httpx.HTTPError):
                errors += 1
                return
            if r.status_code >= 400:
                errors += 1
                return
            latencies.append(loop.time() - scheduled)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - t0 - 0.2
    latencies.sort()
    ms = [v * 1000 for v in latencies]
    return OpenLoopResult(
        rate_target=rate,
        duration_s=round(elapsed, 2),
        sent=n,
        ok=len(ms),
        errors=errors,
        achieved_rps=round(len(ms) / elapsed, 1) if elapsed > 0 else 0.0,
        p50_ms=round(percentile(ms, 50), 2),
        p95_ms=round(percentile(ms, 95), 2),
        p99_ms=round(percentile(ms, 99), 2),
        max_ms=round(ms[-1], 2) if ms else float("nan"),
    )


if __name__ == "__main__":
    # python openloop.py URL RATE DURATION  (GET, no headers): a quick manual check.
    result = asyncio.run(
        open_loop(
            url=sys.argv[1], method="GET", headers={}, body=None, rate=float(sys.argv[2]), duration=float(sys.argv[3])
        )
    )
    print(json.dumps(asdict(result)))
