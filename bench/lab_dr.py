"""The lab's restore drill as a benchmark: RTO to the API serving and RPO on whole-cluster loss, with ~1 GB.

    python -m bench lab-dr [--scale 70] [--writes-seconds 90] [--runs 3]      (make bench-lab-dr; root, lab up)

Adds a pgbench database to the lab's cluster, runs maestro/lab/drill.py's drill `--runs` times and writes
docs/benchmarks/lab-dr.{json,md} with the medians.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from typing import Annotated, Any

import typer

from bench import report
from maestro.lab import releases
from maestro.lab.drill import DrillResult, run_drill
from maestro.lab.failover import wait_healthy
from maestro.lab.nspawn import ssh
from maestro.lab.system import LabError
from maestro.lab.topology import host_by_name, platform_ports


def pgbench_command(release: releases.Release, port: int, scale: int) -> str:
    """The shell command that fills the pgbench database with `scale`, with the release's PostgreSQL's pgbench."""
    return (
        f"runuser -u postgres -- /usr/lib/postgresql/{release.postgres_major}/bin/pgbench -h /var/run/postgresql "
        f"-p {port} -i -q -s {scale} pgbench"
    )


def pgbench_init(release: releases.Release, scale: int) -> int:
    """A pgbench database of `scale` on the leader (about 15 MiB per unit); its size in bytes."""
    leader = next(m["name"] for m in wait_healthy() if m["role"] == "leader")
    host = host_by_name(leader)
    port = platform_ports()["postgres"]
    psql = f"runuser -u postgres -- psql -h /var/run/postgresql -p {port} -Atqc"
    ssh(host, f"{psql} 'DROP DATABASE IF EXISTS pgbench' && {psql} 'CREATE DATABASE pgbench'")
    ssh(host, pgbench_command(release, port, scale))
    return int(ssh(host, f"{psql} \"SELECT pg_database_size('pgbench')\"").stdout.strip())


def main(
    scale: Annotated[int, typer.Option(help="pgbench scale added before the first backup (70 is about 1 GB).")] = 70,
    writes_seconds: Annotated[
        float, typer.Option(help="Seconds of writes after the last WAL switch before the loss (RPO grows with it).")
    ] = 90.0,
    runs: Annotated[int, typer.Option(min=1, max=9, help="Drills to run; the report gives medians.")] = 3,
) -> None:
    """Run the lab's restore drill `runs` times with a pgbench database; write docs/benchmarks/lab-dr.{json,md}."""
    machine = report.machine()
    size = pgbench_init(releases.current(), scale) if scale else 0
    pause = 0.2
    results = []
    for n in range(runs):
        result = run_drill(unarchived=max(30, int(writes_seconds / pause)), unarchived_pause=pause)
        print(f"run {n + 1}/{runs}: {json.dumps(result.as_dict(), default=str)}")
        if not (result.exact_at_target and result.exact_after_latest):
            raise LabError(f"run {n + 1}: the restored data is not exact: {result.as_dict()}")
        results.append(result)
    _report(results, scale, writes_seconds, size, machine)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    # A run whose API never became ready has no RTO: then there is no honest median either.
    return round(statistics.median(present), 1) if present and len(present) == len(values) else None


def _report(results: list[DrillResult], scale: int, writes_seconds: float, size: int, machine: dict[str, Any]) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    mem_gib = machine["memory_gib"]
    args = f"--scale {scale} --writes-seconds {writes_seconds:g} --runs {len(results)}"
    command = f"make bench-lab-dr BENCH_LAB_DR_ARGS='{args}'"
    rto = _median([r.rto_api_seconds for r in results])
    restore = _median([r.restore_seconds for r in results])
    rpo = _median([r.rpo_seconds for r in results])
    drill = _median([r.drill_seconds for r in results])
    lost = _median([float(r.lost_on_cluster_loss) for r in results])
    committed = _median([float(r.committed_before_loss) for r in results])
    gib = round(size / 2**30, 2)
    common: dict[str, Any] = {"command": command, "date": now, "machine": machine, "runs": len(results)}
    cases = [
        report.case(
            "rto_in_place_restore_to_api_ready",
            {"rto_api_median": (rto, "s"), "restore_command_median": (restore, "s"), "pgbench_database": (gib, "GiB")},
            per_run={
                "rto_api": [r.rto_api_seconds for r in results],
                "restore_command": [r.restore_seconds for r in results],
            },
            target={"rto_api": {"max": 300, "unit": "s"}},
            **common,
        ),
        report.case(
            "rpo_whole_cluster_loss",
            {
                "rpo_median": (rpo, "s"),
                "lost_commits_median": (lost, "transactions"),
                "committed_median": (committed, "transactions"),
                "drill_restore_median": (drill, "s"),
            },
            per_run={"rpo": [r.rpo_seconds for r in results], "lost": [r.lost_on_cluster_loss for r in results]},
            target={"rpo": {"max": 60, "unit": "s"}},
            **common,
        ),
    ]
    checks = [{**r.as_dict(), "pgbench_bytes": size} for r in results]

    def show(v: float | None) -> str:
        return "not reached in every run" if v is None else f"{v:.1f} s"

    def each(values: list[float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.1f}" for v in values)

    markdown = (
        "# Lab restore drill: RTO and RPO\n\n"
        f"`{command}` on {now}: {machine['cpus']} cores, {mem_gib} GiB, load {machine['load_average_at_start'][0]} at "
        f"the start. The lab's six platform hosts and the drill host share the cores. Medians of {len(results)} "
        "drills; the runs column gives each drill in order. What one drill does: maestro/lab/drill.py's "
        "docstring.\n\n"
        "| figure | median | runs | target |\n|---|---|---|---|\n"
        f"| RTO: `maestro restore --to T --target in-place` to the API's `/readyz` 200 through the WAF, with a "
        f"{gib:.2f} GiB pgbench database and the platform's own | {show(rto)} | "
        f"{each([r.rto_api_seconds for r in results])} | < 300 s |\n"
        f"| the restore command itself, until every replica streams | {show(restore)} | "
        f"{each([r.restore_seconds for r in results])} | |\n"
        f"| RPO on whole-cluster loss (`maestro drill --to latest`) | {show(rpo)} | "
        f"{each([r.rpo_seconds for r in results])} | <= 60 s |\n"
        f"| commits lost on whole-cluster loss | {lost:g} of {committed:g} | "
        f"{' / '.join(str(r.lost_on_cluster_loss) for r in results)} | |\n"
        f"| the drill's restore of `latest` into dr1 | {show(drill)} | "
        f"{each([r.drill_seconds for r in results])} | |\n\n"
        f"Every run was exact: the 80 commits up to T row for row and by checksum after the in-place restore, and "
        "every archived commit back, in order, after `latest`.\n\n"
        "The RTO clock starts when `maestro restore` starts (the repository read and the window check included) and "
        "stops at the first 200 from `/readyz` after it had failed. The API is ready before the command ends: the "
        "command also waits for the replicas to be rebuilt.\n\n"
        "RPO is the commit time of the last transaction acknowledged before the loss minus that of the last one the "
        "repository brought back. After the last forced WAL switch the writer ran for the `--writes-seconds` given, "
        "so the archive closed one more segment on `archive_timeout` (60 s) and the rest was lost: the RPO "
        "is bounded by `archive_timeout` plus the archiver's push. On single-node loss the RPO is 0 from "
        "synchronous replication ([lab.md](lab.md), failover: 0 acknowledged writes lost).\n"
    )
    report.write("lab-dr", {"cases": cases, "runs": checks}, markdown)
