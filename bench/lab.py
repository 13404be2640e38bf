"""Lab benchmarks: `make lab` from a cold and a warm cache, and failover under load over several runs, per release.

Run as root: `python -m bench lab [--runs 5] [--skip-cold]` (or `make bench-lab`, `make bench-lab LAB_RELEASE=bookworm`
for Debian 12 hosts). Writes docs/benchmarks/lab.json and docs/benchmarks/lab.md, where each Debian release's last
figures stand side by side: a run replaces its own release's and keeps the other's. A cold run deletes the release's
cached base image and wheelhouses first; a warm run starts from the caches with no hosts running. Both end with the
lab up, which the failover runs use; the lab is taken down at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from bench import report
from maestro.lab import image, releases
from maestro.lab.failover import FailoverResult, run_failover
from maestro.lab.topology import INVENTORY_DIR, LAB_DIR
from maestro.lab.wheelhouses import wheelhouse_dir
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


def markdown(by_release: dict[str, dict[str, Any]]) -> str:
    """docs/benchmarks/lab.md: the releases side by side, then each release's figures."""

    def failover(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda data: str(data.get("failover", {}).get("seconds_to_recovery", {}).get(key, "-"))

    def lab(name: str) -> Callable[[dict[str, Any]], str]:
        return lambda data: str(data["lab_seconds"].get(name, "-"))

    names = sorted({name for data in by_release.values() for name in data["lab_seconds"]})
    return report.releases_markdown(
        "Lab benchmarks",
        "Rerun: `sudo make bench-lab` (Debian 13 hosts) or `sudo make bench-lab LAB_RELEASE=bookworm` (Debian 12); "
        "each run replaces its release's figures. `--running` measures only the failover on a lab that is up.",
        by_release,
        [(f"`make lab`, {name} (s)", lab(name)) for name in names]
        + [(f"failover, seconds until writes succeed ({key})", failover(key)) for key in ("median", "worst")],
        _release_markdown,
    )


def _release_markdown(data: dict[str, Any]) -> list[str]:
    """One release's figures (the page's section for it)."""
    lines = [
        f"Measured {data['date']} on {data['machine']['cpus']} cores / {data['machine']['memory_gib']} GiB "
        "(load average at the failover runs' start "
        f"{', '.join(f'{x:.1f}' for x in data['machine']['load_average_at_start'])}).",
        "Each figure's command is in lab.json (and in the table for `make lab`).",
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
    return lines


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


def _cases(data: dict[str, Any], command: str, release: str) -> list[dict[str, Any]]:
    """One JSON case per figure, in the shared shape (bench/report.py), named after the release."""
    base: dict[str, Any] = {"command": command, "date": data["date"], "machine": data["machine"], "release": release}
    cases = [
        report.case(f"{release}: make lab: {name}", {"duration": (secs, "s")}, **base)
        for name, secs in data["lab_seconds"].items()
    ]
    fo = data.get("failover")
    if fo:
        cases.append(
            report.case(
                f"{release}: failover under load (leader host crashed)",
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


def _legacy(old: dict[str, Any]) -> dict[str, Any]:
    """A report from before releases were recorded: its figures as they were (its cases are made again)."""
    return {k: v for k, v in old.items() if k != "cases"}


def main(
    runs: Annotated[int, typer.Option(help="Failover runs.")] = 5,
    skip_cold: Annotated[bool, typer.Option(help="Keep the caches (no cold run).")] = False,
    running: Annotated[bool, typer.Option(help="Only the failover runs, on the lab that is up now (left up).")] = False,
) -> None:
    """`make lab` cold and warm, failover under load `runs` times, on the lab's release ($LAB_RELEASE, Debian 13 by
    default); write its figures beside the other release's in docs/benchmarks/lab.{json,md} (root)."""
    release = releases.current() if running else releases.requested()
    data: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": report.machine(), "lab_seconds": {}}
    command = (
        f"{releases.ENV}={release.suite} python -m bench lab --runs {runs}"
        + " --skip-cold" * skip_cold
        + " --running" * running
    )
    data["command"] = command
    if not running:
        _lab("down")
        if not skip_cold:
            for cached in (
                image.image_dir(release),
                wheelhouse_dir(release, "mlflow").parent,
                LAB_DIR / "cache" / "dist",
            ):
                if cached.exists():
                    shutil.rmtree(cached)
            data["lab_seconds"]["cold (no image, no wheelhouses)"] = _lab("up", "--release", release.suite)
            _lab("down")
        data["lab_seconds"]["warm (cached image and wheelhouses)"] = _lab("up", "--release", release.suite)
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
    by_release = {**report.previous_releases("lab", _legacy), release.suite: data}
    report.write_releases(
        "lab", by_release, lambda suite, d: _cases(d, d.get("command", command), suite), markdown(by_release)
    )
    typer.echo(f"wrote {report.OUT_DIR / 'lab.md'}")
