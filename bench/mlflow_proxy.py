"""Benchmark: overhead of Maestro's MLflow proxy over MLflow direct, for log_batch and get_registered_model.

Starts PostgreSQL, Redis, MLflow (workspaces, artifact proxy) and the API on loopback (``bench.servers.platform``),
then sends the same REST calls the stock client sends, one at a time (closed loop, one connection),
interleaving direct and proxied calls so that load from the shared machine hits both alike. Writes
docs/benchmarks/mlflow-proxy.{md,json}: P50 and P99 per call and path, and the overhead (proxy minus direct).

    python -m bench proxy [--requests 300]      (make bench-proxy)
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Annotated, Any

import httpx
import typer
from maestro_api.registry.scoping import workspace_for

from bench import report as shared
from bench.api.openloop import percentile
from bench.servers import ApiConfig, MlflowConfig, platform

BATCH = 100  # metrics per log_batch call


def _batch(run_id: str, step: int) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": i, "timestamp": now, "step": step + i} for i in range(BATCH)],
    }


def measure(requests: int) -> dict[str, Any]:
    with platform(
        prefix="maestro-bench-proxy-",
        mlflow=MlflowConfig(workers=2, serve_artifacts=True),
        artifact_root="mlflow-artifacts:/tenants",
        api=ApiConfig(workers=1),
    ) as p:
        assert p.mlflow is not None and p.api_url
        return run_cases(p.api_url, p.mlflow.url, p.key, p.tenant_id, requests)


def run_cases(api: str, mlflow_url: str, key: str, tenant_id: uuid.UUID, n: int) -> dict[str, Any]:
    proxy: dict[str, Any] = {"base": f"{api}/mlflow", "headers": {"Authorization": f"Bearer {key}"}}
    direct: dict[str, Any] = {
        "base": mlflow_url,
        "headers": {"X-MLFLOW-WORKSPACE": workspace_for(tenant_id)},
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
    """docs/benchmarks/mlflow-proxy.md from the report."""
    lines = [
        "# MLflow proxy overhead",
        "",
        f"Date: {report['date']}. Command: `{report['command']}`. Load average before/after: "
        f"{report['load_before']} / {report['load_after']}.",
        "",
        f"Machine: {report['machine'].get('cpus')} CPUs ({report['machine'].get('cpu')}), "
        f"{report['machine'].get('memory_gib')} GiB, shared with other work (see the load averages).",
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


def shared_cases(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures in the shape every benchmark report shares (bench/report.py): one case per call and path
    (direct, proxy, and the overhead between them)."""
    return [
        shared.case(
            name,
            {key.removesuffix("_ms"): (value, "ms" if key.endswith("_ms") else "requests") for key, value in f.items()},
            command=report["command"],
            date=report["date"],
            machine=report["machine"],
        )
        for name, f in report["figures"].items()
    ]


def main(requests: Annotated[int, typer.Option(help="Calls per case and path.")] = 300) -> None:
    """MLflow proxy overhead vs MLflow direct; writes docs/benchmarks/mlflow-proxy.{md,json}."""
    before = shared.load_average()
    figures = measure(requests)
    report = {
        "name": "mlflow-proxy-overhead",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": f"python -m bench proxy --requests {requests}",
        "machine": shared.machine(),
        "requests": requests,
        "load_before": before,
        "load_after": shared.load_average(),
        "units": "milliseconds",
        "figures": figures,
    }
    report["cases"] = shared_cases(report)
    shared.write("mlflow-proxy", report, render(report))
    print(render(report))
