"""Lab benchmarks: `make lab` from a cold and a warm cache, and failover under load over several runs.

Run as root: `python -m bench lab [--runs 5] [--skip-cold]` (or `make bench-lab`). Writes
docs/benchmarks/lab.json and docs/benchmarks/lab.md. A cold run deletes the cached base image and wheelhouses first;
a warm run starts from the caches with no hosts running. Both end with the lab up, which the failover runs use;
the lab is taken down at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import time
from typing import Annotated, Any

import typer

from bench import report
from maestro.lab.failover import FailoverResult, run_failover
from maestro.lab.topology import INVENTORY_DIR, LAB_DIR
from maestro.paths import ROOT


def _lab(*args: str) -> float:
    """`maestro lab <args>` in its own process, as `make lab` runs it; the seconds it took."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "maestro", "lab", *args], check=True, cwd=ROOT)  # noqa: S603
    return round(time.monotonic() - start, 1)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "worst": round(max(values), 2),
        "best": round(min(values), 2),
    }


def markdown(data: dict[str, Any]) -> str:
    """docs/benchmarks/lab.md from the report."""
    lines = [
        "# Lab benchmarks",
        "",
        f"Measured {data['date']} on {data['machine']['cpus']} cores / {data['machine']['memory_gib']} GiB "
        "(load average at the failover runs' start "
        f"{', '.join(f'{x:.1f}' for x in data['machine']['load_average_at_start'])}).",
        "Each figure's command is in lab.json (and in the table for `make lab`). Rerun: `sudo make bench-lab` (or "
        "`python -m bench lab --runs 5`; `--running` measures only the failover on a lab that is up).",
        "",
        "## `make lab`",
        "",
        "| run | seconds | command |",
        "|---|---|---|",
    ]
    commands = {c["name"]: c["command"] for c in data.get("cases", [])}
    for name, secs in data["lab_seconds"].items():
        how = commands.get(f"make lab: {name}")
        lines.append(f"| {name} | {secs} | " + (f"`{how}` |" if how else "this run's command |"))
    if not data["lab_seconds"]:
        lines.append("| not measured in this run (`--running`); `make test` prints each phase's time | - | - |")
    fo = data.get("failover")
    if fo:
        s, lost = fo["seconds_to_recovery"], fo["lost_writes"]
        lines += [
            "",
            f"## Failover under load ({len(fo['runs'])} runs)",
            "",
            "A writer commits one row per transaction through HAProxy; the leader's host is crashed (SIGKILL to its",
            "systemd). Seconds = from the kill to the first acknowledged write on the new primary.",
            "",
            "| metric | median | worst | best |",
            "|---|---|---|---|",
            f"| seconds until writes succeed | {s['median']} | {s['worst']} | {s['best']} |",
            f"| acknowledged writes lost | {lost['median']} | {lost['worst']} | {lost['best']} |",
            "",
            "Target: under 15 s median with 0 lost acknowledged writes: "
            + ("**met**" if s["median"] < 15 and lost["worst"] == 0 else "**NOT met**")
            + f" (median {s['median']} s, worst {s['worst']} s, worst lost {lost['worst']}).",
            "",
            "| run | old leader | new leader | seconds | acknowledged | lost | primaries after | old leader rejoined |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(fo["runs"], 1):
            lines.append(
                f"| {i} | {r['old_leader']} | {r['new_leader']} | {r['seconds_to_recovery']} | {r['acknowledged']} "
                f"| {r['lost']} | {r['primaries_after']} | {r['old_leader_role'] or 'no'} |"
            )
        lines += ["", fo["note"]]
    return "\n".join(lines) + "\n"


def _patroni_timing() -> str:
    """The Patroni timing the lab runs with (from the generated inventory), for the report."""
    import yaml

    path = INVENTORY_DIR / "group_vars" / "all" / "lab.yml"
    v = yaml.safe_load(path.read_text()) if path.exists() else {}
    return (
        f"Patroni ttl {v.get('patroni_ttl', 20)} s, loop_wait {v.get('patroni_loop_wait', 2)} s, retry_timeout "
        f"{v.get('patroni_retry_timeout', 5)} s (the lab's inventory; the role's defaults are 20/2/5), synchronous "
        "mode on (not strict); HAProxy checks every 1 s (fall 2, rise 1). A crashed leader holds its lock until "
        "the TTL expires, so the TTL bounds recovery."
    )


def _cases(data: dict[str, Any], command: str) -> list[dict[str, Any]]:
    """One JSON case per figure, in the shared shape (bench/report.py)."""
    base: dict[str, Any] = {"command": command, "date": data["date"], "machine": data["machine"]}
    cases = [
        report.case(f"make lab: {name}", {"duration": (secs, "s")}, **base)
        for name, secs in data["lab_seconds"].items()
    ]
    fo = data.get("failover")
    if fo:
        cases.append(
            report.case(
                "failover under load (leader host crashed)",
                {
                    "runs": (len(fo["runs"]), "runs"),
                    "seconds_to_recovery_median": (fo["seconds_to_recovery"]["median"], "s"),
                    "seconds_to_recovery_worst": (fo["seconds_to_recovery"]["worst"], "s"),
                    "acknowledged_writes_lost_median": (fo["lost_writes"]["median"], "writes"),
                    "acknowledged_writes_lost_worst": (fo["lost_writes"]["worst"], "writes"),
                },
                **base,
            )
        )
    return cases


def main(
    runs: Annotated[int, typer.Option(help="Failover runs.")] = 5,
    skip_cold: Annotated[bool, typer.Option(help="Keep the caches (no cold run).")] = False,
    running: Annotated[bool, typer.Option(help="Only the failover runs, on the lab that is up now (left up).")] = False,
) -> None:
    """`make lab` cold and warm, failover under load `runs` times; write docs/benchmarks/lab.{json,md} (root)."""
    data: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": report.machine(), "lab_seconds": {}}
    command = f"python -m bench lab --runs {runs}" + " --skip-cold" * skip_cold + " --running" * running
    if not running:
        _lab("down")
        if not skip_cold:
            for cached in (LAB_DIR / "images", LAB_DIR / "cache"):
                if cached.exists():
                    shutil.rmtree(cached)
            data["lab_seconds"]["cold (no image, no wheelhouses)"] = _lab("up")
            _lab("down")
        data["lab_seconds"]["warm (cached image and wheelhouses)"] = _lab("up")
    results: list[FailoverResult] = []
    try:
        for _ in range(runs):
            results.append(run_failover())
            typer.echo(json.dumps(results[-1].as_dict()))
    finally:
        if not running:
            _lab("down")
    if results:
        data["failover"] = {
            "runs": [r.as_dict() for r in results],
            "seconds_to_recovery": _summary([r.seconds_to_recovery for r in results]),
            "lost_writes": _summary([float(r.lost) for r in results]),
            "note": _patroni_timing(),
        }
    data["cases"] = _cases(data, command)
    report.write("lab", data, markdown(data))
    typer.echo(f"wrote {report.OUT_DIR / 'lab.md'}")
