"""What the API benchmark's runs share: a load case, one closed-loop measurement with wrk (throughput, latency and
the CPU each server spent per request), the machine's description, and the data every case reads.

``bench.api.run`` (the four cases) and ``bench.api.baseline`` (case (a) against a baseline revision) use these.
"""

# ruff: noqa: S603 - a benchmark driver: it runs a fixed local program (wrk)
from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import report

WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = Path(__file__).with_name("wrk.lua")
WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MODEL = "bench-model"


@dataclass
class Case:
    key: str
    title: str
    url: str
    method: str
    headers: dict[str, str]
    body: str | None
    rate: float
    """Arrival rate of the open-loop measurement (requests/s), below the case's capacity."""


def cached_read(api: str, key: str) -> Case:
    """Case (a): the cached model read through the API."""
    auth = {"Authorization": f"Bearer {key}"}
    return Case("a", "cached model read through the API", f"{api}/v1/models/{MODEL}", "GET", auth, None, 400)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in a process group (from /proc; children of gunicorn and
    uvicorn masters share the master's group). Load-independent: what one request costs, not how long it waited."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 (pgrp) of proc(5), counted after the command name
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def run_wrk(
    case: Case, *, connections: int, duration: int, threads: int, cpu_groups: Mapping[str, int]
) -> dict[str, Any]:
    """One closed-loop run of ``case``; ``cpu_groups`` (name -> process group) are sampled around it."""
    env = {
        **os.environ,
        "BENCH_METHOD": case.method,
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in case.headers.items()),
    }
    if case.body is not None:
        env["BENCH_BODY"] = case.body
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(LUA), case.url]
    cpu_before = {name: group_cpu_seconds(pgid) for name, pgid in cpu_groups.items()}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    cpu = {name: group_cpu_seconds(pgid) - cpu_before[name] for name, pgid in cpu_groups.items()}
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
        "cpu_ms_per_request": {
            name: round(seconds * 1000 / raw["requests"], 3) if raw["requests"] else None
            for name, seconds in cpu.items()
        },
        "command": " ".join(cmd),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """The shared machine description (bench/report.py) plus the Python and wrk versions this benchmark used."""
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.splitlines()[0:1]
    return {
        **report.machine(),
        "python": platform.python_version(),
        "wrk": wrk_version[0] if wrk_version else "wrk",
    }


def setup_data(api: str, mlflow: str, key: str, tenant_ws: str) -> tuple[str, str]:
    """The experiment, run, model, version and alias the cases read and write; returns (version body, run id)."""
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=30) as c:
        r = c.post(f"{api}/v1/experiments", json={"name": "bench"}, headers=h)
        r.raise_for_status()
        exp = r.json()["experiment_id"]
        r = c.post(
            f"{mlflow}/api/2.0/mlflow/runs/create", json={"experiment_id": exp}, headers={WORKSPACE_HEADER: tenant_ws}
        )
        r.raise_for_status()
        run = r.json()["run"]["info"]
        c.post(
            f"{api}/v1/models",
            json={"name": MODEL, "description": "benchmark", "tags": {"team": "perf"}},
            headers=h,
        ).raise_for_status()
        body = json.dumps({"source": f"{run['artifact_uri']}/model", "run_id": run["run_id"]})
        c.post(
            f"{api}/v1/models/{MODEL}/versions", content=body, headers={**h, "Content-Type": "application/json"}
        ).raise_for_status()
        c.put(f"{api}/v1/models/{MODEL}/aliases/champion", json={"version": "1"}, headers=h).raise_for_status()
    return body, run["run_id"]
