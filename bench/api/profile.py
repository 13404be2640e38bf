"""Profile the API's hot path: a cached model read, driven in-process straight into the ASGI app.

Real PostgreSQL and Redis (started here, as ``bench.api.run`` does); no MLflow: the cached body is put in the
tenant's Redis hash first, so every request is a cache hit. Requests are sent one at a time by calling the ASGI
app directly (no HTTP client or server in the measurement), and the CPU time of this process per request is
printed. With ``--profile`` the same loop runs under cProfile and the top functions are printed.

    .venv/bin/python -m bench.api.profile [--requests 3000] [--profile] [--sort tottime] [--top 40]

A tuning aid, not the benchmark: its CPU per request excludes uvicorn's HTTP parsing and the socket work that
``bench.api.run``'s CPU column includes, so compare it only with itself.
"""

# ruff: noqa: S603, S607 - starts fixed local programs (postgres, redis)
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench.api.run import postgres, psql, redis_server

VENV_BIN = Path(sys.executable).parent
MODEL = "bench-model"


def _env(pg_port: int, service_pw: str, owner_pw: str, redis_port: int) -> dict[str, str]:
    limits = {
        t: {"per_key": 10**9, "per_tenant": 10**9, "window_seconds": 60}
        for t in ("free", "standard", "premium", "enterprise")
    }
    return {
        "MAESTRO_ENVIRONMENT": "dev",
        "MAESTRO_DATABASE_URL": f"postgresql+psycopg://maestro_app:{service_pw}@127.0.0.1:{pg_port}/maestro",
        "MAESTRO_DATABASE_OWNER_URL": f"postgresql+psycopg://maestro_owner:{owner_pw}@127.0.0.1:{pg_port}/maestro",
        "MAESTRO_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MAESTRO_MLFLOW_URL": "http://127.0.0.1:9",  # never reached: every read is a cache hit
        "MAESTRO_API_KEY_PEPPER": secrets.token_urlsafe(40),
        "MAESTRO_RATE_LIMITS": orjson.dumps(limits).decode(),
        "MAESTRO_LOG_LEVEL": "WARNING",
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
    base = Path(tempfile.mkdtemp(prefix="maestro-profile-"))
    with contextlib.ExitStack() as stack:
        pg_port, pg_pw = stack.enter_context(postgres())
        redis_port, _ = stack.enter_context(redis_server(base))
        owner_pw, service_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        for sql in (
            f"CREATE ROLE maestro_owner LOGIN PASSWORD '{owner_pw}'",
            f"CREATE ROLE maestro_app LOGIN PASSWORD '{service_pw}'",
            "CREATE DATABASE maestro OWNER maestro_owner",
        ):
            psql(pg_port, pg_pw, sql)
        psql(pg_port, pg_pw, "ALTER SCHEMA public OWNER TO maestro_owner", db="maestro")
        env = _env(pg_port, service_pw, owner_pw, redis_port)
        full = {**os.environ, **env}
        cli = str(VENV_BIN / "maestro-api")
        subprocess.run([cli, "migrate"], env=full, check=True, capture_output=True, timeout=300)
        key = subprocess.run(
            [cli, "bootstrap", "--tenant", "bench", "--tier", "enterprise"],
            env=full, check=True, capture_output=True, text=True, timeout=120,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        tenant_id = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "-d", "maestro", "-tAc",
             "SELECT id FROM tenants WHERE name = 'bench'"],
            env={**os.environ, "PGPASSWORD": pg_pw}, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        import uvloop

        uvloop.run(run(env, key, uuid.UUID(tenant_id), args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
