"""The API benchmark: (a) cached model read through the API, (b) the same read directly from MLflow, (c) an
uncached read through the API, (d) an authenticated write creating a model version.

Everything runs on loopback and is started and stopped here: PostgreSQL 15 and Redis (Debian), MLflow (4 sync
gunicorn workers: the fair baseline of docs/architecture.md, no job runner), the API (uvicorn workers). Each case gets
requests/s and P50/P95/P99 at a fixed concurrency (wrk, closed loop) and latencies at a fixed arrival rate
(``openloop.py``, open loop). The whole set repeats ``--repeats`` times, interleaved; medians are reported.

    .venv/bin/python -m bench api run [--api-workers 2] [--repeats 3] [--duration 10] [--label NAME]
    .venv/bin/python -m bench api run --baseline <git-rev> [--repeats 6]   case (a) against a baseline revision

Writes docs/benchmarks/api.json and docs/benchmarks/api.md (the tuning log is bench/api/tuning.md); with
``--baseline``, build/bench/api-baseline.{json,md} (``bench.api.baseline``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import signal
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maestro_api.registry.scoping import workspace_for

from bench import report as bench_report
from bench import servers
from bench.api import baseline
from bench.api.measure import WORKSPACE_HEADER, Case, cached_read, loadavg, machine, run_wrk, setup_data
from bench.api.openloop import open_loop
from bench.servers import ApiConfig, MlflowConfig, start_api
from maestro.paths import ROOT
from tests.mlflow_server import stop_process_group

DOCS = ROOT / "docs" / "benchmarks"
TUNING = Path(__file__).with_name("tuning.md")


@dataclass
class Report:
    label: str
    date: str
    machine: dict[str, Any]
    config: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    medians: dict[str, Any] = field(default_factory=dict)
    tuning: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    """The medians in the shape every benchmark report shares (bench/report.py)."""


def shared_cases(report: Report, command: str) -> list[dict[str, Any]]:
    """One case per measured request kind (a-d): closed-loop throughput and latency, errors and CPU per request."""
    out = []
    for key, m in report.medians.items():
        cpu = m.get("cpu_ms_per_request") or {}
        figures: dict[str, tuple[float | int | None, str]] = {
            "throughput": (m["rps"], "requests/s"),
            "p50": (m["p50_ms"], "ms"),
            "p95": (m["p95_ms"], "ms"),
            "p99": (m["p99_ms"], "ms"),
            "errors": (m["errors"], "requests"),
            **{f"cpu_per_request_{proc}": (v, "ms") for proc, v in cpu.items()},
        }
        out.append(
            bench_report.case(
                f"({key}) {m['title']}", figures, command=command, date=report.date, machine=report.machine
            )
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api-workers", type=int, default=2)
    ap.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    ap.add_argument("--http", default="httptools", choices=["httptools", "h11"])
    ap.add_argument("--auth-cache-ttl", type=float, default=5.0)
    ap.add_argument("--mlflow-workers", type=int, default=4)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (1 leaves more CPU to the servers)")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rate-duration", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pause", type=float, default=5.0, help="seconds between cases (queues drain)")
    ap.add_argument("--cases", default="abcd")
    ap.add_argument("--label", default="default")
    ap.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON results (the .md is written next to it); default docs/benchmarks/api.json, with --baseline "
        "build/bench/api-baseline.json",
    )
    ap.add_argument("--no-markdown", action="store_true", help="only write JSON (tuning experiments)")
    ap.add_argument(
        "--variants",
        default="",
        help="after the main runs, measure (a) with other API configs on the same servers: comma-separated "
        "workers:loop:http:auth_cache_ttl, e.g. 1:uvloop:httptools:5,2:asyncio:h11:5,2:uvloop:httptools:0",
    )
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="measure only (a), for the API at git revision REV and for the working tree, alternately in one run",
    )
    args = ap.parse_args()
    cfg = ApiConfig(workers=args.api_workers, loop=args.loop, http=args.http, auth_cache_ttl=args.auth_cache_ttl)
    if args.baseline:
        comparison = baseline.compare(rev=args.baseline, cfg=cfg, args=args)
        baseline.write(comparison, args.output or baseline.DEFAULT_OUTPUT, " ".join(sys.argv[1:]))
        return 0
    args.output = args.output or DOCS / "api.json"

    started = time.monotonic()
    report = Report(
        label=args.label,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        config={
            "api": asdict(cfg),
            "mlflow": f"mlflow server, {args.mlflow_workers} sync gunicorn workers (--preload), no job runner, "
            "workspaces on",
            "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration}s",
            "open_loop": f"{args.rate_duration}s per case at min(nominal rate, half the measured req/s), latency from "
            "scheduled start",
            "repeats": args.repeats,
            "redis_cache_ttl_s": 30,
            "rate_limits": "raised far above the load (the limiter still runs: one Redis round trip per request)",
        },
    )
    mlflow_cfg = MlflowConfig(workers=args.mlflow_workers, preload=True)
    with servers.platform(prefix="maestro-bench-", mlflow=mlflow_cfg, api=cfg) as p:
        assert p.mlflow is not None and p.mlflow.process is not None and p.api_proc is not None and p.api_url
        mlflow, api_proc, api, key = p.mlflow, p.api_proc, p.api_url, p.key
        cpu_groups = {"api": api_proc.pid, "mlflow": p.mlflow.process.pid, "redis": p.redis_pid}
        wrk = {"connections": args.connections, "threads": args.threads, "cpu_groups": cpu_groups}
        ws = workspace_for(p.tenant_id)
        version_body, _ = setup_data(api, mlflow.url, key, ws)
        auth = {"Authorization": f"Bearer {key}"}
        cases = {
            "a": cached_read(api, key),
            "b": Case(
                "b",
                "same read directly from MLflow REST",
                f"{mlflow.url}/api/2.0/mlflow/registered-models/get?name=bench-model",
                "GET",
                {WORKSPACE_HEADER: ws},
                None,
                100,
            ),
            "c": Case(
                "c",
                "uncached read through the API (Cache-Control: no-cache)",
                f"{api}/v1/models/bench-model",
                "GET",
                {**auth, "Cache-Control": "no-cache"},
                None,
                100,
            ),
            "d": Case(
                "d",
                "authenticated write: create a model version",
                f"{api}/v1/models/bench-model/versions",
                "POST",
                {**auth, "Content-Type": "application/json"},
                version_body,
                20,
            ),
        }
        selected = [cases[c] for c in args.cases]
        for rep in range(args.repeats):
            run: dict[str, Any] = {"repeat": rep + 1, "load_before": loadavg(), "cases": {}}
            for case in selected:
                run_wrk(case, duration=2, **wrk)  # warm-up
                closed = run_wrk(case, duration=args.duration, **wrk)
                # The fixed arrival rate: the case's nominal rate, capped at half of the capacity just measured, so
                # the open-loop run shows latency below saturation instead of an ever-growing queue.
                rate = max(1.0, min(case.rate, round(closed["rps"] / 2)))
                opened = asyncio.run(
                    open_loop(
                        url=case.url,
                        method=case.method,
                        headers=case.headers,
                        body=case.body.encode() if case.body else None,
                        rate=rate,
                        duration=args.rate_duration,
                    )
                )
                time.sleep(args.pause)  # let queued requests drain before the next case
                run["cases"][case.key] = {"closed": closed, "open": asdict(opened)}
                print(f"[{rep + 1}] {case.key}: {closed['rps']} req/s p99 {closed['p99_ms']} ms; "
                      f"at {rate}/s p99 {opened.p99_ms} ms", flush=True)  # fmt: skip
            run["load_after"] = loadavg()
            report.runs.append(run)
        for case in selected:
            closed_runs = [r["cases"][case.key]["closed"] for r in report.runs]
            open_runs = [r["cases"][case.key]["open"] for r in report.runs]
            report.medians[case.key] = {
                "title": case.title,
                "method": case.method,
                "url": case.url.replace(api, "{api}").replace(mlflow.url, "{mlflow}"),
                "rps": statistics.median(r["rps"] for r in closed_runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in closed_runs),
                "p95_ms": statistics.median(r["p95_ms"] for r in closed_runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in closed_runs),
                "errors": sum(r["errors"] for r in closed_runs),
                "cpu_ms_per_request": {
                    name: statistics.median(
                        r["cpu_ms_per_request"][name] for r in closed_runs if r["cpu_ms_per_request"][name] is not None
                    )
                    if any(r["cpu_ms_per_request"][name] is not None for r in closed_runs)
                    else None
                    for name in cpu_groups
                },
                "open_rate_rps": statistics.median(r["rate_target"] for r in open_runs),
                "open_achieved_rps": statistics.median(r["achieved_rps"] for r in open_runs),
                "open_p50_ms": statistics.median(r["p50_ms"] for r in open_runs),
                "open_p95_ms": statistics.median(r["p95_ms"] for r in open_runs),
                "open_p99_ms": statistics.median(r["p99_ms"] for r in open_runs),
                "open_errors": sum(r["errors"] for r in open_runs),
                "wrk_command": closed_runs[0]["command"]
                .replace(api, "{api}")
                .replace(mlflow.url, "{mlflow}")
                .replace(str(ROOT) + "/", ""),
            }
        if args.variants:
            stop_process_group(api_proc)
            for spec in args.variants.split(","):
                w, loop, http, ttl = spec.split(":")
                vcfg = ApiConfig(workers=int(w), loop=loop, http=http, auth_cache_ttl=float(ttl))
                vproc, vapi = start_api(p.env, vcfg, p.base / "api.log")
                cpu_groups["api"] = vproc.pid
                try:
                    vcase = Case(**{**asdict(cases["a"]), "url": f"{vapi}/v1/models/bench-model"})
                    run_wrk(vcase, duration=2, **wrk)
                    results = [run_wrk(vcase, duration=args.duration, **wrk) for _ in range(args.repeats)]
                finally:
                    stop_process_group(vproc)
                entry = {
                    "config": asdict(vcfg),
                    "rps": statistics.median(r["rps"] for r in results),
                    "p50_ms": statistics.median(r["p50_ms"] for r in results),
                    "p99_ms": statistics.median(r["p99_ms"] for r in results),
                    "errors": sum(r["errors"] for r in results),
                    "api_cpu_ms_per_request": statistics.median(r["cpu_ms_per_request"]["api"] or 0.0 for r in results),
                    "load": loadavg(),
                }
                report.tuning.append(entry)
                print(f"variant {spec}: {entry['rps']} req/s p99 {entry['p99_ms']} ms", flush=True)
    report.config["elapsed_s"] = round(time.monotonic() - started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report.cases = shared_cases(report, "python -m bench api run " + " ".join(sys.argv[1:]))
    args.output.write_text(json.dumps(asdict(report), indent=2) + "\n")
    if not args.no_markdown:
        args.output.with_suffix(".md").write_text(render_markdown(report, " ".join(sys.argv[1:])))
    print(f"wrote {args.output}")
    return 0


def render_markdown(report: Report, argv: str) -> str:
    m = report.medians
    lines = [
        "# API benchmark",
        "",
        "Generated by `make bench` (`bench/api/run.py`); do not edit by hand. The tuning log at the end is",
        "`bench/api/tuning.md`.",
        "",
        f"- Date: {report.date}",
        f"- Command: `.venv/bin/python -m bench api run {argv}`".rstrip(),
        f"- Machine: {report.machine['cpus']} CPUs ({report.machine['cpu']}), "
        f"{report.machine['memory_gib']} GiB, Linux {report.machine['kernel']}, Python {report.machine['python']}, "
        f"{report.machine['wrk']}",
        f"- Load average at the start: {report.machine['load_average_at_start']}.",
        f"- API: uvicorn, {report.config['api']['workers']} workers, loop {report.config['api']['loop']}, "
        f"http {report.config['api']['http']}; MLflow: {report.config['mlflow']}.",
        f"- Closed loop: wrk {report.config['wrk']}; open loop: {report.config['open_loop']}.",
        f"- Figures are medians of {report.config['repeats']} interleaved repeats; all servers on loopback, started "
        f"and stopped by the run ({report.config['elapsed_s']} s in total).",
        "",
        "## Results (medians)",
        "",
        "| case | req/s | P50 ms | P95 ms | P99 ms | errors | open-loop rate req/s | P50 ms | P95 ms | P99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in m.items():
        lines.append(
            f"| ({key}) {r['title']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['errors']} | {r['open_achieved_rps']:.0f} of {r['open_rate_rps']:.0f} | {r['open_p50_ms']:.1f} | "
            f"{r['open_p95_ms']:.1f} | {r['open_p99_ms']:.1f} |"
        )
    lines += [
        "",
        "## CPU cost per request (load-independent)",
        "",
        "CPU time (user + system, from /proc) that each server's process group spent during the closed-loop run,",
        "divided by the requests completed. On a shared machine throughput depends on the CPU share the run gets;",
        "the cost per request does not. The ceiling column is 2 cores / (API + Redis + MLflow cost), an upper bound",
        "that ignores wrk, PostgreSQL and the kernel.",
        "",
        "| case | API ms | Redis ms | MLflow ms | ceiling on 2 idle cores, req/s |",
        "|---|---|---|---|---|",
    ]
    for key, r in m.items():
        c = r.get("cpu_ms_per_request") or {}
        total = sum(v for v in c.values() if v)
        ceiling = f"{2000 / total:.0f}" if total else "-"
        lines.append(f"| ({key}) | {c.get('api')} | {c.get('redis')} | {c.get('mlflow')} | {ceiling} |")
    if "a" in m and "b" in m:
        a, b = m["a"], m["b"]
        ratio = a["rps"] / b["rps"] if b["rps"] else float("inf")
        t1 = "met" if a["rps"] >= 1200 and a["p99_ms"] <= 50 else "NOT met"
        t2 = "met" if ratio >= 3 else "NOT met"
        lines += [
            "",
            "## Targets for (a)",
            "",
            f"- >= 1,200 req/s with P99 <= 50 ms: {a['rps']:.0f} req/s, P99 {a['p99_ms']:.1f} ms: **{t1}**.",
            f"- >= 3x (b): {a['rps']:.0f} / {b['rps']:.0f} = {ratio:.1f}x: **{t2}**.",
            "- The platform we replace: 1,200 req/s with P95 450 ms and P99 850 ms.",
        ]
    lines += ["", "## Per repeat", "", "| repeat | load before | load after | " + " | ".join(
        f"({k}) req/s, P99 ms" for k in m) + " |", "|---|---|---|" + "---|" * len(m)]  # fmt: skip
    for run in report.runs:
        cells = [f"{run['cases'][k]['closed']['rps']:.0f}, {run['cases'][k]['closed']['p99_ms']:.1f}" for k in m]
        lines.append(
            f"| {run['repeat']} | {', '.join(map(str, run['load_before']))} | "
            f"{', '.join(map(str, run['load_after']))} | " + " | ".join(cells) + " |"
        )
    if report.tuning:
        lines += [
            "",
            "## (a) under other API configurations (same servers, same run)",
            "",
            "| workers | loop | http | auth cache TTL s | req/s | P50 ms | P99 ms | errors | API CPU ms/req "
            "| load after |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in report.tuning:
            c = t["config"]
            lines.append(
                f"| {c['workers']} | {c['loop']} | {c['http']} | {c['auth_cache_ttl']:g} | {t['rps']:.0f} | "
                f"{t['p50_ms']:.1f} | {t['p99_ms']:.1f} | {t['errors']} | {t.get('api_cpu_ms_per_request')} | "
                f"{', '.join(map(str, t['load']))} |"
            )
    lines += ["", "## Commands", ""]
    for key, r in m.items():
        lines.append(f"- ({key}) `{r['method']} {r['url']}`: `{r['wrk_command']}`")
    if TUNING.exists():
        lines += ["", TUNING.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
