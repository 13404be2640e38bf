# ruff: noqa: S603, S607 - a benchmark driver: it starts fixed local programs (postgres, redis, mlflow, maestro-api)
"""Benchmark: overhead of Maestro's MLflow proxy over MLflow direct, for log_batch and get_registered_model.

Starts PostgreSQL, Redis, MLflow (workspaces, artifact proxy) and the API on loopback (the API benchmark's
helpers), then sends the same REST calls the stock client sends, one at a time (closed loop, one connection),
interleaving direct and proxied calls so that load from the shared machine hits both alike. Writes
docs/benchmarks/mlflow-proxy.{md,json}: P50 and P99 per call and path, and the overhead (proxy minus direct).

    python -m bench.mlflow_proxy [--requests 300]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from maestro_api.registry.scoping import workspace_for

from bench.api.openloop import percentile
from bench.api.run import ApiConfig, loadavg, machine, postgres, psql, redis_server, start_api
from tests.mlflow_server import start_mlflow, stop_process_group

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks"
VENV_BIN = Path(sys.executable).parent
BATCH = 100  # metrics per log_batch call


def _batch(run_id: str, step: int) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": i, "timestamp": now, "step": step + i} for i in range(BATCH)],
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="maestro-bench-proxy-"))
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        pg_port, pg_pw = stack.enter_context(postgres())
        redis_port, _ = stack.enter_context(redis_server(base))
        owner_pw, service_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        for sql in (
            f"CREATE ROLE maestro_owner LOGIN PASSWORD '{owner_pw}'",
            f"CREATE ROLE maestro_app LOGIN PASSWORD '{service_pw}'",
            "CREATE DATABASE maestro OWNER maestro_owner",
            "CREATE DATABASE mlflow",
        ):
            psql(pg_port, pg_pw, sql)
        psql(pg_port, pg_pw, "ALTER SCHEMA public OWNER TO maestro_owner", db="maestro")
        mlflow = start_mlflow(
            database_url=f"postgresql+psycopg2://postgres:{pg_pw}@127.0.0.1:{pg_port}/mlflow",
            workdir=base / "mlflow",
            workers=2,
            serve_artifacts=True,
        )
        assert mlflow.process is not None
        procs.append(mlflow.process)
        limits = {
            t: {"per_key": 10**9, "per_tenant": 10**9, "window_seconds": 60}
            for t in ("free", "standard", "premium", "enterprise")
        }
        env = {
            **os.environ,
            "MAESTRO_ENVIRONMENT": "dev",
            "MAESTRO_DATABASE_URL": f"postgresql+psycopg://maestro_app:{service_pw}@127.0.0.1:{pg_port}/maestro",
            "MAESTRO_DATABASE_OWNER_URL": f"postgresql+psycopg://maestro_owner:{owner_pw}@127.0.0.1:{pg_port}/maestro",
            "MAESTRO_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "MAESTRO_MLFLOW_URL": mlflow.url,
            "MAESTRO_ARTIFACT_ROOT": "mlflow-artifacts:/tenants",
            "MAESTRO_API_KEY_PEPPER": secrets.token_urlsafe(40),
            "MAESTRO_RATE_LIMITS": json.dumps(limits),
            "MAESTRO_LOG_LEVEL": "WARNING",
        }
        cli = str(VENV_BIN / "maestro-api")
        subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True, timeout=300)
        out = subprocess.run(
            [cli, "bootstrap", "--tenant", "bench", "--tier", "enterprise"],
            env=env, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        key = out.stdout.strip().splitlines()[-1]
        api_proc, api = start_api(env, ApiConfig(workers=1), base / "api.log")
        procs.append(api_proc)
        try:
            return run_cases(api, mlflow.url, key, pg_port, pg_pw, args.requests)
        finally:
            for proc in reversed(procs):
                stop_process_group(proc)


def run_cases(api: str, mlflow_url: str, key: str, pg_port: int, pg_pw: str, n: int) -> dict[str, Any]:
    tenant_id = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres", "-d", "maestro", "-tAc",
         "SELECT id FROM tenants WHERE name = 'bench'"],
        env={**os.environ, "PGPASSWORD": pg_pw}, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    proxy: dict[str, Any] = {"base": f"{api}/mlflow", "headers": {"Authorization": f"Bearer {key}"}}
    direct: dict[str, Any] = {
        "base": mlflow_url,
        "headers": {"X-MLFLOW-WORKSPACE": workspace_for(uuid.UUID(tenant_id))},
    }
    samples: dict[str, list[float]] = {
        f"{c}/{p}": [] for c in ("log_batch", "get_registered_model") for p in ("direct", "proxy")
    }
    with httpx.Client(timeout=30) as http:
        setup = proxy
        exp = http.post(
            f"{setup['base']}/api/2.0/mlflow/experiments/create", json={"name": "bench"}, headers=setup["headers"]
        )
        exp.raise_for_status()
        run = http.post(
            f"{setup['base']}/api/2.0/mlflow/runs/create",
            json={"experiment_id": exp.json()["experiment_id"]},
            headers=setup["headers"],
        )
        run.raise_for_status()
        run_id = run.json()["run"]["info"]["run_id"]
        http.post(
            f"{setup['base']}/api/2.0/mlflow/registered-models/create",
            json={"name": "bench-model"},
            headers=setup["headers"],
        ).raise_for_status()
        for i in range(n + 20):  # 20 warm-up rounds, not recorded
            for path, target in (("direct", direct), ("proxy", proxy)):
                t0 = time.perf_counter()
                r = http.post(
                    f"{target['base']}/api/2.0/mlflow/runs/log-batch",
                    json=_batch(run_id, i * BATCH),
                    headers=target["headers"],
                )
                t1 = time.perf_counter()
                r.raise_for_status()
                r = http.get(
                    f"{target['base']}/api/2.0/mlflow/registered-models/get",
                    params={"name": "bench-model"},
                    headers=target["headers"],
                )
                t2 = time.perf_counter()
                r.raise_for_status()
                if i >= 20:
                    samples[f"log_batch/{path}"].append(t1 - t0)
                    samples[f"get_registered_model/{path}"].append(t2 - t1)
    figures: dict[str, Any] = {}
    for name, values in samples.items():
        values.sort()
        figures[name] = {
            "p50_ms": round(percentile(values, 50) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2),
            "n": len(values),
        }
    for call in ("log_batch", "get_registered_model"):
        d, p = figures[f"{call}/direct"], figures[f"{call}/proxy"]
        figures[f"{call}/overhead"] = {
            "p50_ms": round(p["p50_ms"] - d["p50_ms"], 2),
            "p99_ms": round(p["p99_ms"] - d["p99_ms"], 2),
        }
    return figures


def render(report: dict[str, Any]) -> str:
    lines = [
        "# MLflow proxy overhead",
        "",
        f"Date: {report['date']}. Command: `{report['command']}`. Load average before/after: "
        f"{report['load_before']} / {report['load_after']}.",
        "",
        f"Machine: {report['machine'].get('cpus')} CPUs ({report['machine'].get('cpu_model')}), "
        f"{report['machine'].get('memory_gib')} GiB; {report['machine'].get('shared')}.",
        "",
        f"Closed loop, one connection, {report['requests']} calls per case after 20 warm-up rounds, direct and "
        f"proxied calls interleaved. log_batch sends {BATCH} metrics; the proxy path includes authentication, "
        "rate limiting, RBAC and the audit event of the mutation. MLflow: 2 gunicorn workers on PostgreSQL.",
        "",
        "| call | path | P50 (ms) | P99 (ms) |",
        "|---|---|---|---|",
    ]
    for name, f in report["figures"].items():
        call, path = name.split("/")
        lines.append(f"| {call} | {path} | {f['p50_ms']} | {f['p99_ms']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    before = loadavg()
    figures = measure(args)
    report = {
        "name": "mlflow-proxy-overhead",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench-proxy  # python -m bench.mlflow_proxy " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "requests": args.requests,
        "load_before": before,
        "load_after": loadavg(),
        "units": "milliseconds",
        "figures": figures,
    }
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "mlflow-proxy.json").write_text(json.dumps(report, indent=2) + "\n")
    (DOCS / "mlflow-proxy.md").write_text(render(report))
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
