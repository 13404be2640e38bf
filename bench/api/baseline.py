"""Case (a), the cached read through the API, for a baseline revision and for the working tree in one run.

On a shared machine two runs taken minutes apart differ by more than most changes do, so a change to the hot path
is judged against its baseline measured in the same run: both APIs are served side by side on the same PostgreSQL,
Redis and MLflow, from the same virtualenv, and measured in turn (A B B A ...), so a drift in the machine's load
falls on both. The baseline's ``app/`` comes from ``git archive <rev>`` into a scratch directory that its API
imports first (``PYTHONPATH``); the directory is removed on exit. Both share the working tree's database schema,
so a baseline whose migrations differ is refused.

    .venv/bin/python -m bench api run --baseline <git-rev> [--repeats 6] [--duration 10]

Writes build/bench/api-baseline.json and .md (``--output`` moves them); docs/benchmarks/ is left alone.
"""

# ruff: noqa: S603, S607 - a benchmark driver: it runs fixed local programs (git, tar, the venv's python)
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maestro_api.registry.scoping import workspace_for

from bench import report as bench_report
from bench import servers
from bench.api.measure import cached_read, loadavg, machine, run_wrk, setup_data
from bench.servers import ApiConfig, MlflowConfig, start_api
from maestro.paths import ROOT
from tests.mlflow_server import stop_process_group

DEFAULT_OUTPUT = ROOT / "build" / "bench" / "api-baseline.json"
TOLERANCE = 0.05
"""The working tree's (a) may fall at most this far below the baseline's (median req/s)."""
SIDES = ("baseline", "working tree")


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=False)


def resolve(rev: str) -> str:
    """The commit ``rev`` names; ``SystemExit`` with the reason when it names none, or when its schema differs."""
    found = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if found.returncode != 0:
        raise SystemExit(f"--baseline {rev!r}: not a commit of this repository")
    commit = found.stdout.decode().strip()
    if _git("diff", "--quiet", commit, "--", "app/maestro_api/migrations").returncode != 0:
        raise SystemExit(
            f"--baseline {rev!r}: its migrations differ from the working tree's; both APIs share one database"
        )
    return commit


@contextlib.contextmanager
def baseline_app(commit: str) -> Iterator[Path]:
    """``app/`` of ``commit`` unpacked into a scratch directory; yields the directory to put on ``PYTHONPATH``."""
    scratch = Path(tempfile.mkdtemp(prefix="maestro-bench-baseline-"))
    try:
        archive = _git("archive", "--format=tar", commit, "app")
        if archive.returncode != 0:
            raise SystemExit(f"git archive {commit} app failed: {archive.stderr.decode().strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(scratch, filter="data")
        yield scratch / "app"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def imported_from(env: dict[str, str]) -> Path:
    """Where ``maestro_api`` is imported from by a process started like the APIs (same env, same directory)."""
    out = subprocess.run(
        [sys.executable, "-c", "import maestro_api; print(maestro_api.__file__)"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip()).resolve()


@dataclass
class Comparison:
    label: str
    date: str
    baseline: str
    """The baseline's commit."""
    machine: dict[str, Any]
    config: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    medians: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratio: float = 0.0
    """Median req/s of the working tree over the baseline's (the figure the tolerance applies to)."""
    paired_ratio: float = 0.0
    """Median over the repeats of each repeat's own ratio (the two sides measured back to back): less sensitive to
    the machine's load drifting during the run."""
    cpu_ratio: float = 0.0
    """API CPU per request of the working tree over the baseline's (median): what the load changes least."""
    within_tolerance: bool = False
    cases: list[dict[str, Any]] = field(default_factory=list)
    """Both medians in the shape every benchmark report shares (bench/report.py)."""


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def compare(*, rev: str, cfg: ApiConfig, args: Any) -> Comparison:
    """Measure (a) ``args.repeats`` times on each side, alternating; return the comparison."""
    commit = resolve(rev)
    started = time.monotonic()
    report = Comparison(
        label=args.label,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        baseline=commit,
        machine=machine(),
        config={
            "api": asdict(cfg),
            "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration}s",
            "repeats": args.repeats,
            "order": "A B B A ... (baseline, working tree)",
            "tolerance": TOLERANCE,
        },
    )
    mlflow_cfg = MlflowConfig(workers=args.mlflow_workers, preload=True)
    with (
        baseline_app(commit) as base_app,
        servers.platform(prefix="maestro-bench-ab-", mlflow=mlflow_cfg, api=cfg) as p,
    ):
        assert p.mlflow is not None and p.api_proc is not None and p.api_url
        base_env = {**p.env, "PYTHONPATH": str(base_app)}
        if not imported_from(base_env).is_relative_to(base_app.resolve()):
            raise SystemExit("the baseline API would not import the baseline's maestro_api")
        if imported_from(p.env).is_relative_to(base_app.resolve()):
            raise SystemExit("the working tree's API would import the baseline's maestro_api")
        base_proc, base_url = start_api(base_env, cfg, p.base / "api-baseline.log")
        try:
            setup_data(p.api_url, p.mlflow.url, p.key, workspace_for(p.tenant_id))
            apis = {"baseline": (base_url, base_proc.pid), "working tree": (p.api_url, p.api_proc.pid)}
            samples: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
            for rep in range(args.repeats):
                order = SIDES if rep % 2 == 0 else SIDES[::-1]
                run: dict[str, Any] = {"repeat": rep + 1, "load_before": loadavg(), "order": list(order)}
                for side in order:
                    url, pgid = apis[side]
                    case = cached_read(url, p.key)
                    groups = {"api": pgid, "redis": p.redis_pid}
                    wrk = {"connections": args.connections, "threads": args.threads, "cpu_groups": groups}
                    run_wrk(case, duration=2, **wrk)  # warm-up
                    result = run_wrk(case, duration=args.duration, **wrk)
                    result["command"] = result["command"].replace(url, "{api}").replace(str(ROOT) + "/", "")
                    samples[side].append(result)
                    run[side] = result
                    print(f"[{rep + 1}] {side}: {result['rps']} req/s p99 {result['p99_ms']} ms", flush=True)
                    time.sleep(args.pause)
                run["load_after"] = loadavg()
                report.runs.append(run)
        finally:
            stop_process_group(base_proc)
    for side in SIDES:
        runs = samples[side]
        report.medians[side] = {
            "rps": _median(runs, "rps"),
            "p50_ms": _median(runs, "p50_ms"),
            "p99_ms": _median(runs, "p99_ms"),
            "errors": sum(r["errors"] for r in runs),
            "api_cpu_ms_per_request": statistics.median(r["cpu_ms_per_request"]["api"] or 0.0 for r in runs),
        }
    base_rps, work_rps = report.medians["baseline"]["rps"], report.medians["working tree"]["rps"]
    report.ratio = round(work_rps / base_rps, 3) if base_rps else 0.0
    pairs = [r["working tree"]["rps"] / r["baseline"]["rps"] for r in report.runs if r["baseline"]["rps"]]
    report.paired_ratio = round(statistics.median(pairs), 3) if pairs else 0.0
    base_cpu = report.medians["baseline"]["api_cpu_ms_per_request"]
    report.cpu_ratio = (
        round(report.medians["working tree"]["api_cpu_ms_per_request"] / base_cpu, 3) if base_cpu else 0.0
    )
    report.within_tolerance = report.ratio >= 1 - TOLERANCE
    report.config["elapsed_s"] = round(time.monotonic() - started)
    command = "python -m bench api run " + " ".join(sys.argv[1:])
    report.cases = [
        bench_report.case(
            f"(a) cached model read through the API: {side}",
            {
                "throughput": (m["rps"], "requests/s"),
                "p50": (m["p50_ms"], "ms"),
                "p99": (m["p99_ms"], "ms"),
                "errors": (m["errors"], "requests"),
                "cpu_per_request_api": (m["api_cpu_ms_per_request"], "ms"),
            },
            command=command,
            date=report.date,
            machine=report.machine,
        )
        for side, m in report.medians.items()
    ]
    return report


def render_markdown(report: Comparison, argv: str) -> str:
    verdict = "within" if report.within_tolerance else "NOT within"
    lines = [
        "# API benchmark: case (a) against a baseline",
        "",
        f"- Date: {report.date}",
        f"- Command: `.venv/bin/python -m bench api run {argv}`",
        f"- Baseline: {report.baseline}; working tree: the checkout the command ran in.",
        f"- Machine: {report.machine['cpus']} CPUs ({report.machine['cpu']}), Python "
        f"{report.machine['python']}; load average at the start {report.machine['load_average_at_start']}.",
        f"- Each side: uvicorn, {report.config['api']['workers']} workers; wrk {report.config['wrk']}; "
        f"{report.config['repeats']} repeats per side, order {report.config['order']}.",
        f"- Elapsed: {report.config['elapsed_s']} s.",
        "",
        "| side | req/s | P50 ms | P99 ms | errors | API CPU ms per request |",
        "|---|---|---|---|---|---|",
    ]
    for side, m in report.medians.items():
        lines.append(
            f"| {side} | {m['rps']:.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {m['errors']} | "
            f"{m['api_cpu_ms_per_request']:.3f} |"
        )
    lines += [
        "",
        f"Working tree / baseline (median req/s): **{report.ratio:.3f}**, {verdict} the {TOLERANCE:.0%} tolerance.",
        f"Median of the per-repeat ratios: {report.paired_ratio:.3f}; API CPU per request, working tree / baseline: "
        f"{report.cpu_ratio:.3f} (above 1: the working tree costs more).",
        "",
        "| repeat | order | load before | load after | baseline req/s | working tree req/s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in report.runs:
        base, work = run["baseline"]["rps"], run["working tree"]["rps"]
        lines.append(
            f"| {run['repeat']} | {', '.join(run['order'])} | {', '.join(map(str, run['load_before']))} | "
            f"{', '.join(map(str, run['load_after']))} | {base:.0f} | {work:.0f} | {work / base if base else 0:.2f} |"
        )
    return "\n".join(lines) + "\n"


def write(report: Comparison, output: Path, argv: str) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(asdict(report), indent=2) + "\n")
    output.with_suffix(".md").write_text(render_markdown(report, argv))
    print(
        f"wrote {output} and {output.with_suffix('.md').name}: working tree / baseline = {report.ratio:.3f} "
        f"(paired {report.paired_ratio:.3f}, CPU per request {report.cpu_ratio:.3f})"
    )
