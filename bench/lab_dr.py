"""The lab's restore drill as a benchmark, per release: RTO to the API serving and RPO on whole-cluster loss.

    python -m bench lab-dr [--scale 70] [--writes-seconds 90] [--runs 3]      (make bench-lab-dr; root, lab up)
    python -m bench lab-dr --rewrite                                          (the pages again, from lab-dr.json)

Adds a pgbench database (about 1 GB at scale 70) to the lab's cluster, runs maestro/lab/drill.py's drill `--runs`
times on the release of the lab that is up, and writes docs/benchmarks/lab-dr.{json,md}, where each Debian release's
last figures stand side by side: a run replaces its own release's and keeps the other's. A release's figures are its
runs (each drill's result and the pgbench database's size) with the command, date and machine; the medians are made
from the runs.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import report
from maestro.lab import releases
from maestro.lab.drill import run_drill
from maestro.lab.failover import wait_healthy
from maestro.lab.nspawn import ssh
from maestro.lab.system import LabError
from maestro.lab.topology import host_by_name, platform_ports

NAME = "lab-dr"
PGBENCH_DB = "pgbench"


def pgbench_command(release: releases.Release, port: int, scale: int) -> str:
    """The shell command that fills the pgbench database with `scale`, with the release's PostgreSQL's pgbench."""
    return (
        f"runuser -u postgres -- /usr/lib/postgresql/{release.postgres_major}/bin/pgbench -h /var/run/postgresql "
        f"-p {port} -i -q -s {scale} {PGBENCH_DB}"
    )


def pgbench_init(release: releases.Release, scale: int) -> int:
    """A pgbench database of `scale` on the leader (about 15 MiB per unit); its size in bytes."""
    leader = next(m["name"] for m in wait_healthy() if m["role"] == "leader")
    host = host_by_name(leader)
    port = platform_ports()["postgres"]
    psql = f"runuser -u postgres -- psql -h /var/run/postgresql -p {port} -Atqc"
    ssh(host, f"{psql} 'DROP DATABASE IF EXISTS {PGBENCH_DB}' && {psql} 'CREATE DATABASE {PGBENCH_DB}'")
    ssh(host, pgbench_command(release, port, scale))
    return int(ssh(host, f"{psql} \"SELECT pg_database_size('{PGBENCH_DB}')\"").stdout.strip())


def main(
    scale: Annotated[int, typer.Option(help="pgbench scale added before the first backup (70 is about 1 GB).")] = 70,
    writes_seconds: Annotated[
        float, typer.Option(help="Seconds of writes after the last WAL switch before the loss (RPO grows with it).")
    ] = 90.0,
    runs: Annotated[int, typer.Option(min=1, max=9, help="Drills to run; the report gives medians.")] = 3,
    rewrite: Annotated[
        bool, typer.Option(help="Write the pages again from lab-dr.json's figures: no drill, no lab.")
    ] = False,
) -> None:
    """Run the lab's restore drill `runs` times with a pgbench database; write its release's figures beside the
    other release's in docs/benchmarks/lab-dr.{json,md}."""
    if rewrite:
        publish({})
        return
    release = releases.current()
    machine = report.machine()
    size = pgbench_init(release, scale) if scale else 0
    pause = 0.2
    results = []
    for n in range(runs):
        result = run_drill(unarchived=max(30, int(writes_seconds / pause)), unarchived_pause=pause)
        print(f"run {n + 1}/{runs}: {json.dumps(result.as_dict(), default=str)}")
        if not (result.exact_at_target and result.exact_after_latest):
            raise LabError(f"run {n + 1}: the restored data is not exact: {result.as_dict()}")
        results.append({**result.as_dict(), "pgbench_bytes": size})
    args = f"--scale {scale} --writes-seconds {writes_seconds:g} --runs {runs}"
    figures = {
        "command": f"make bench-lab-dr BENCH_LAB_DR_ARGS='{args}'",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "machine": machine,
        "runs": results,
    }
    publish({release.suite: figures})


def publish(measured: dict[str, report.Figures], out_dir: Path = report.OUT_DIR) -> dict[str, report.Figures]:
    """Write lab-dr.{json,md} in `out_dir`: the `measured` releases' figures replace theirs and the other releases'
    are kept (none measured: the pages are written again from lab-dr.json). Returns every release's figures."""
    by_release = {**report.previous_releases(NAME, _legacy, out_dir), **measured}
    if not by_release:
        raise FileNotFoundError(f"{out_dir / NAME}.json holds no figures to write again")
    report.write_releases(NAME, by_release, _cases, markdown(by_release), out_dir)
    return by_release


def _legacy(old: dict[str, Any]) -> report.Figures:
    """A report from before releases were recorded (its cases and its runs): its release's figures."""
    first = old["cases"][0]
    return {"command": first["command"], "date": first["date"], "machine": first["machine"], "runs": old["runs"]}


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    # A run whose API never became ready has no RTO: then there is no honest median either.
    return round(statistics.median(present), 1) if present and len(present) == len(values) else None


def _each(figures: report.Figures, key: str) -> list[float | None]:
    """Every run's `key`, in order."""
    return [r[key] for r in figures["runs"]]


def _medians(figures: report.Figures) -> dict[str, float | None]:
    """The medians of a release's runs, and its pgbench database's size (GiB)."""
    return {
        "rto": _median(_each(figures, "rto_api_seconds")),
        "restore": _median(_each(figures, "restore_seconds")),
        "rpo": _median(_each(figures, "rpo_seconds")),
        "drill": _median(_each(figures, "drill_seconds")),
        "lost": _median(_each(figures, "lost_on_cluster_loss")),
        "committed": _median(_each(figures, "committed_before_loss")),
        "gib": round(figures["runs"][0]["pgbench_bytes"] / 2**30, 2),
    }


def _cases(suite: str, figures: report.Figures) -> list[dict[str, Any]]:
    """A release's two JSON cases in the shared shape (bench/report.py), named after the release."""
    m = _medians(figures)
    common: dict[str, Any] = {
        "command": figures["command"],
        "date": figures["date"],
        "machine": figures["machine"],
        "runs": len(figures["runs"]),
        "release": suite,
    }
    return [
        report.case(
            f"{suite}: rto_in_place_restore_to_api_ready",
            {
                "rto_api_median": (m["rto"], "s"),
                "restore_command_median": (m["restore"], "s"),
                "pgbench_database": (m["gib"], "GiB"),
            },
            per_run={
                "rto_api": _each(figures, "rto_api_seconds"),
                "restore_command": _each(figures, "restore_seconds"),
            },
            target={"rto_api": {"max": 300, "unit": "s"}},
            **common,
        ),
        report.case(
            f"{suite}: rpo_whole_cluster_loss",
            {
                "rpo_median": (m["rpo"], "s"),
                "lost_commits_median": (m["lost"], "transactions"),
                "committed_median": (m["committed"], "transactions"),
                "drill_restore_median": (m["drill"], "s"),
            },
            per_run={"rpo": _each(figures, "rpo_seconds"), "lost": _each(figures, "lost_on_cluster_loss")},
            target={"rpo": {"max": 60, "unit": "s"}},
            **common,
        ),
    ]


def _seconds(v: float | None) -> str:
    return "not reached in every run" if v is None else f"{v:.1f} s"


def _lost(m: dict[str, float | None]) -> str:
    return f"{m['lost']:g} of {m['committed']:g}"


def markdown(by_release: dict[str, report.Figures]) -> str:
    """docs/benchmarks/lab-dr.md: the releases' headline figures side by side, then each release's runs."""

    def median(show: Callable[[dict[str, float | None]], str]) -> Callable[[report.Figures], str]:
        return lambda figures: show(_medians(figures))

    page = report.releases_markdown(
        "Lab restore drill: RTO and RPO",
        "Rerun: `sudo make bench-lab-dr` on the lab that is up (`sudo make lab`: Debian 13 hosts; `sudo make lab "
        "LAB_RELEASE=bookworm`: Debian 12) measures that lab's release and replaces its figures. Each figure is the "
        "median of the release's drills; what one drill does: maestro/lab/drill.py's docstring.",
        by_release,
        [
            ("RTO: `maestro restore` to the API's `/readyz` 200 (median)", median(lambda m: _seconds(m["rto"]))),
            ("the restore command itself (median)", median(lambda m: _seconds(m["restore"]))),
            ("RPO on whole-cluster loss (median)", median(lambda m: _seconds(m["rpo"]))),
            ("commits lost on whole-cluster loss (median)", median(_lost)),
            ("the drill's restore of `latest` into dr1 (median)", median(lambda m: _seconds(m["drill"]))),
            ("pgbench database", median(lambda m: f"{m['gib']:.2f} GiB")),
            ("date", lambda figures: str(figures["date"])),
            ("command", lambda figures: f"`{figures['command']}`"),
        ],
        _release_markdown,
    )
    return page + "\n".join(["", *NOTES])


NOTES = [
    "# How the figures are taken",
    "",
    "The RTO clock starts when `maestro restore` starts (the repository read and the window check included) and "
    "stops at the first 200 from `/readyz` after it had failed. The API is ready before the command ends: the "
    "command also waits for the replicas to be rebuilt.",
    "",
    "RPO is the commit time of the last transaction acknowledged before the loss minus that of the last one the "
    "repository brought back. After the last forced WAL switch the writer ran for the `--writes-seconds` given, "
    "so the archive closed one more segment on `archive_timeout` (60 s) and the rest was lost: the RPO "
    "is bounded by `archive_timeout` plus the archiver's push. On single-node loss the RPO is 0 from "
    "synchronous replication ([lab.md](lab.md), failover: 0 acknowledged writes lost).",
    "",
]
"""What the figures mean, the same for every release: the page's last section."""


def _release_markdown(figures: report.Figures) -> list[str]:
    """One release's section: the machine, each figure's median beside every run's value, and the exactness."""
    m, runs, machine = _medians(figures), figures["runs"], figures["machine"]

    def each(key: str) -> str:
        return " / ".join("-" if r[key] is None else f"{r[key]:.1f}" for r in runs)

    return [
        f"`{figures['command']}` on {figures['date']}: {machine['cpus']} cores, {machine['memory_gib']} GiB, load "
        f"{machine['load_average_at_start'][0]} at the start. The lab's six platform hosts and the drill host share "
        f"the cores. Medians of {len(runs)} drills; the runs column gives each drill in order.",
        "",
        "| figure | median | runs | target |",
        "|---|---|---|---|",
        f"| RTO: `maestro restore --to T --target in-place` to the API's `/readyz` 200 through the WAF, with a "
        f"{m['gib']:.2f} GiB pgbench database and the platform's own | {_seconds(m['rto'])} | "
        f"{each('rto_api_seconds')} | < 300 s |",
        f"| the restore command itself, until every replica streams | {_seconds(m['restore'])} | "
        f"{each('restore_seconds')} | |",
        f"| RPO on whole-cluster loss (`maestro drill --to latest`) | {_seconds(m['rpo'])} | {each('rpo_seconds')} "
        "| <= 60 s |",
        f"| commits lost on whole-cluster loss | {_lost(m)} | "
        f"{' / '.join(str(r['lost_on_cluster_loss']) for r in runs)} | |",
        f"| the drill's restore of `latest` into dr1 | {_seconds(m['drill'])} | {each('drill_seconds')} | |",
        "",
        (
            f"Every run was exact: the {runs[0]['expected_at_target']} commits up to T row for row and by checksum "
            "after the in-place restore, and every archived commit back, in order, after `latest`."
            if all(r["exact_at_target"] and r["exact_after_latest"] for r in runs)
            else "Not every run was exact: lab-dr.json's runs give which and how."
        ),
    ]
