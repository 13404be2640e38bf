"""Profile the API's hot path: a cached model read, driven in-process straight into the ASGI app.

Real PostgreSQL and Redis (``bench.servers.platform``, which ``bench.api.run`` uses too); no MLflow: the cached
body is put in the tenant's Redis hash first, so every request is a cache hit. Requests are sent one at a time by
calling the ASGI app directly (no HTTP client or server in the measurement), and the CPU time of this process per
request is printed. With ``--profile`` the same loop runs under cProfile and the top functions are printed.

    .venv/bin/python -m bench.api.profile [--requests 3000] [--profile] [--sort tottime] [--top 40]

A tuning aid, not the benchmark: its CPU per request excludes uvicorn's HTTP parsing and the socket work that
``bench.api.run``'s CPU column includes, so compare it only with itself.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from typing import Any

import orjson

from bench.servers import platform

MODEL = "bench-model"
PROFILE_ENV = {
    "MAESTRO_MLFLOW_URL": "http://127.0.0.1:9",  # never reached: every read is a cache hit
    "MAESTRO_REGISTRY_CACHE_TTL_SECONDS": "3600",  # a profiled run is slow: the entry must outlive it
}


async def drive(app: Any, key: str, n: int) -> float:
    """Send ``n`` cached reads; return CPU seconds of this process spent on them."""
    headers = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"accept", b"*/*"),
        (b"user-agent", b"wrk"),
    ]
    path = f"/v1/models/{MODEL}"

    async def one() -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": list(headers),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    for _ in range(50):  # warm-up: auth cache, connection pools, first-call imports
        assert await one() == 200
    started = time.process_time()
    for _ in range(n):
        status = await one()
        if status != 200:
            raise RuntimeError(f"cached read answered {status}")
    return time.process_time() - started


async def run(env: dict[str, str], key: str, tenant_id: uuid.UUID, args: argparse.Namespace) -> None:
    os.environ.update(env)
    from maestro_api.core.config import Settings
    from maestro_api.main import create_app
    from maestro_api.registry.cache import Lookup, field_for

    app = create_app(Settings())
    async with app.router.lifespan_context(app):
        body = orjson.dumps(
            {"name": MODEL, "description": "benchmark", "tags": {"team": "perf"}, "latest_versions": []}
        )
        stored = await app.state.registry.cache.put(tenant_id, field_for("model", MODEL), body, seen=Lookup(None, None))
        assert stored
        cpu = await drive(app, key, args.requests)
        print(f"cached read: {cpu * 1000 / args.requests:.3f} ms CPU per request in-process ({args.requests} requests)")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await drive(app, key, args.requests)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    with platform(prefix="maestro-profile-", extra_env=PROFILE_ENV) as p:
        import uvloop

        uvloop.run(run(p.settings_env, p.key, p.tenant_id, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
