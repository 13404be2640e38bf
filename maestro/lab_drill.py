"""The restore drill on the lab: real Patroni, pgBackRest and the S3 repository, driven through the operator CLI.

1. A known workload through HAProxy: one row per transaction; each row's commit time comes back from
   `track_commit_timestamp` (the clock recovery_target_time is compared with).
2. `maestro backup`, then more writes with a gap in the middle (T falls inside it), all archived.
3. More writes that only a WAL switch would archive; then the whole cluster is lost: every Patroni unit is killed
   with SIGKILL (PostgreSQL with it) and every member's data directory is deleted.
4. `maestro drill --to latest --keep` restores the repository into the drill host (dr1) and leaves it running:
   everything archived is back, in order; the commits after the last archived segment are counted as lost (RPO).
5. `maestro restore --to T --target in-place --yes` rebuilds the cluster: exactly the commits up to T are present,
   row for row and by checksum; one leader, every replica streaming, and the API answers `/readyz` again (RTO).

Used by tests/lab/test_restore_drill.py and by the lab DR benchmark (`python -m maestro.lab_drill`, or
`make bench-lab-dr`), which adds a pgbench database of about 1 GB before the backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import typer

from maestro import bench_report, lab
from maestro.lab_failover import dsn, wait_healthy

TABLE = "maestro_drill"
INVENTORY = lab.INVENTORY_DIR / "hosts.yml"
DATA_DIR = "/var/lib/postgresql/15/maestro-lab"
DRILL_HOST = "dr1"

Row = tuple[int, str, dt.datetime]


def _connect() -> Any:
    import psycopg2

    conn = psycopg2.connect(dsn())
    conn.autocommit = True
    return conn


def prepare() -> None:
    """The drill's table, empty."""
    with contextlib.closing(_connect()) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, payload text NOT NULL)")


def write(n: int, tag: str, pause: float = 0.0) -> None:
    """`n` rows, one transaction each (autocommit), `pause` seconds apart."""
    with contextlib.closing(_connect()) as conn, conn.cursor() as cur:
        for i in range(n):
            cur.execute(f"INSERT INTO {TABLE} (payload) VALUES (%s)", (f"{tag}-{i}-{time.time_ns()}",))  # noqa: S608
            if pause:
                time.sleep(pause)


ROWS_SQL = f"SELECT id, md5(payload), pg_xact_commit_timestamp(xmin) FROM {TABLE} ORDER BY id"  # noqa: S608


def rows() -> list[Row]:
    """The table as the cluster's primary sees it: (id, md5 of the payload, commit time)."""
    with contextlib.closing(_connect()) as conn, conn.cursor() as cur:
        cur.execute(ROWS_SQL)
        return [(int(r[0]), str(r[1]), r[2]) for r in cur.fetchall()]


def drill_host_rows() -> list[tuple[int, str]]:
    """The table in the copy `maestro drill --keep` left running on the drill host (ids and checksums)."""
    port = lab.platform_ports()["postgres"]
    sql = f"SELECT id, md5(payload) FROM {TABLE} ORDER BY id"  # noqa: S608
    out = lab.ssh(
        lab.host_by_name(DRILL_HOST),
        f"runuser -u postgres -- psql -h /var/run/postgresql -p {port} -d postgres -AtF, -c '{sql}'",
    ).stdout
    return [(int(i), m) for i, m in (line.split(",") for line in out.splitlines() if line)]


def stop_drill_copy() -> None:
    """Stop the copy `maestro drill --keep` left running (its data stays until the next drill moves it aside)."""
    lab.ssh(
        lab.host_by_name(DRILL_HOST),
        f"runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D {DATA_DIR} -m fast -w stop",
        check=False,
    )


def checksum(pairs: list[tuple[int, str]]) -> str:
    return hashlib.sha256("".join(f"{i}:{m};" for i, m in pairs).encode()).hexdigest()


def switch_and_wait_archived(timeout: float = 60) -> None:
    """Close the current WAL segment and wait until the archiver has pushed it."""
    with contextlib.closing(_connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_walfile_name(pg_switch_wal())")
        (segment,) = cur.fetchone()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cur.execute("SELECT last_archived_wal FROM pg_stat_archiver")
            (last,) = cur.fetchone()
            if last is not None and last >= segment:
                return
            time.sleep(0.5)
    raise lab.LabError(f"WAL segment {segment} was not archived within {timeout:.0f} s")


def lose_cluster() -> None:
    """Whole-cluster loss: SIGKILL every Patroni unit (PostgreSQL dies with it) and delete every data directory."""
    for host in lab.HOSTS:
        if "postgres" in host.groups:
            lab.ssh(
                host,
                f"systemctl kill --signal=SIGKILL patroni; systemctl stop patroni; rm -rf {DATA_DIR}",
            )


def maestro(*args: str) -> float:
    """Run the operator CLI against the lab inventory; the seconds it took. Raises on a non-zero exit."""
    started = time.monotonic()
    proc = subprocess.run(  # noqa: S603 - fixed argument list
        [str(Path(sys.executable).parent / "maestro"), *args, "--inventory", str(INVENTORY)],
        check=False,
        cwd=lab.REPO,
        env=lab.ansible_env(),  # os.environ plus the repository's ansible.cfg and .venv on PATH
    )
    if proc.returncode != 0:
        raise lab.LabError(f"maestro {' '.join(args)} exited {proc.returncode}")
    return time.monotonic() - started


class ReadyWatch(threading.Thread):
    """Polls the API's /readyz where it is served, on the platform network from the monitoring host (the edge
    publishes no /readyz); records when it first answers 200 after it was seen failing."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.url = f"http://{lab.host_by_name('app1').ip}:{lab.platform_ports()['api']}/readyz"
        self.monitor = lab.host_by_name("mon1")
        self.started = time.monotonic()
        self.saw_failure = False
        self.ready_at: float | None = None
        self.stop_event = threading.Event()

    def ready(self) -> bool:
        probe = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 {self.url}"
        try:
            return lab.ssh(self.monitor, probe, check=False).stdout.strip() == "200"
        except (lab.LabError, OSError):
            return False

    def run(self) -> None:
        while not self.stop_event.is_set() and self.ready_at is None:
            if self.ready():
                if self.saw_failure:
                    self.ready_at = time.monotonic()
            else:
                self.saw_failure = True
            time.sleep(0.5)


@contextlib.contextmanager
def watching_ready() -> Iterator[ReadyWatch]:
    watch = ReadyWatch()
    watch.start()
    try:
        yield watch
    finally:
        watch.stop_event.set()
        watch.join(timeout=10)


@dataclass
class DrillResult:
    """What one lab drill measured and checked."""

    committed_before_loss: int
    archived_rows: int
    lost_on_cluster_loss: int
    rpo_seconds: float
    drill_seconds: float
    target: str
    expected_at_target: int
    restored_at_target: int
    exact_at_target: bool
    exact_after_latest: bool
    restore_seconds: float
    rto_api_seconds: float | None
    members: list[dict[str, Any]] = field(default_factory=list)
    pgbench_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pgbench_init(scale: int) -> int:
    """A pgbench database of `scale` on the leader (about 15 MiB per unit); its size in bytes."""
    leader = next(m["name"] for m in wait_healthy() if m["role"] == "leader")
    host = lab.host_by_name(leader)
    port = lab.platform_ports()["postgres"]
    psql = f"runuser -u postgres -- psql -h /var/run/postgresql -p {port} -Atqc"
    lab.ssh(host, f"{psql} 'DROP DATABASE IF EXISTS pgbench' && {psql} 'CREATE DATABASE pgbench'")
    lab.ssh(
        host,
        f"runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -h /var/run/postgresql -p {port} "
        f"-i -q -s {scale} pgbench",
    )
    return int(lab.ssh(host, f"{psql} \"SELECT pg_database_size('pgbench')\"").stdout.strip())


def run_drill(*, gap: float = 2.0, unarchived: int = 30, unarchived_pause: float = 0.05) -> DrillResult:
    """The whole drill (steps 1-5 of the module's docstring) on a healthy lab."""
    wait_healthy()
    prepare()
    write(40, "before-backup")
    maestro("backup")
    write(40, "after-backup-1")
    time.sleep(gap)  # T falls inside this gap: a clear boundary between two commits
    write(40, "after-backup-2")
    switch_and_wait_archived()
    archived = rows()
    gap_start, gap_end = archived[79][2], archived[80][2]
    target = gap_start + (gap_end - gap_start) / 2
    write(unarchived, "unarchived", pause=unarchived_pause)
    before_loss = rows()

    lose_cluster()
    drill_seconds = maestro("drill", "--to", "latest", "--keep")
    try:
        copy = drill_host_rows()
    finally:
        stop_drill_copy()
    live = [(i, m) for i, m, _ in before_loss]
    exact_after_latest = copy == live[: len(copy)] and len(copy) >= len(archived)
    lost = before_loss[len(copy) :]
    last_restored = before_loss[len(copy) - 1][2]
    rpo = (before_loss[-1][2] - last_restored).total_seconds() if lost else 0.0

    with watching_ready() as watch:
        restore_seconds = maestro("restore", "--to", target.isoformat(), "--target", "in-place", "--yes")
        deadline = time.monotonic() + 300
        while watch.ready_at is None and time.monotonic() < deadline:
            time.sleep(0.5)
        rto = round(watch.ready_at - watch.started, 1) if watch.ready_at is not None else None
    members = wait_healthy()
    expected = [(i, m) for i, m, ts in before_loss if ts <= target]
    restored = [(i, m) for i, m, _ in rows()]
    return DrillResult(
        committed_before_loss=len(before_loss),
        archived_rows=len(archived),
        lost_on_cluster_loss=len(lost),
        rpo_seconds=round(rpo, 2),
        drill_seconds=round(drill_seconds, 1),
        target=target.isoformat(),
        expected_at_target=len(expected),
        restored_at_target=len(restored),
        exact_at_target=restored == expected and checksum(restored) == checksum(expected),
        exact_after_latest=exact_after_latest,
        restore_seconds=round(restore_seconds, 1),
        rto_api_seconds=rto,
        members=members,
    )


# ------------------------------------------------------------------------------------------------------ benchmark

app = typer.Typer(help="The lab's restore drill as a benchmark (RTO to the API serving, RPO).")


@app.command()
def bench(
    scale: int = typer.Option(70, help="pgbench scale added before the first backup (70 is about 1 GB)."),
    writes_seconds: float = typer.Option(
        90.0, help="Seconds of writes after the last WAL switch before the loss (RPO grows with it)."
    ),
    runs: int = typer.Option(3, min=1, max=9, help="Drills to run; the report gives medians."),
) -> None:
    """Run the drill `runs` times with a pgbench database and write docs/benchmarks/lab-dr.{json,md}."""
    load = os.getloadavg()
    size = pgbench_init(scale) if scale else 0
    pause = 0.2
    results = []
    for n in range(runs):
        result = run_drill(unarchived=max(30, int(writes_seconds / pause)), unarchived_pause=pause)
        result.pgbench_bytes = size
        print(f"run {n + 1}/{runs}: {json.dumps(result.as_dict(), default=str)}")
        if not (result.exact_at_target and result.exact_after_latest):
            raise lab.LabError(f"run {n + 1}: the restored data is not exact: {result.as_dict()}")
        results.append(result)
    _report(results, scale, writes_seconds, load)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    # A run whose API never became ready has no RTO: then there is no honest median either.
    return round(statistics.median(present), 1) if present and len(present) == len(values) else None


def _report(results: list[DrillResult], scale: int, writes_seconds: float, load: tuple[float, ...]) -> None:
    out = lab.REPO / "docs" / "benchmarks"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    with open("/proc/meminfo") as fh:
        mem_gib = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in load],
    }
    args = f"--scale {scale} --writes-seconds {writes_seconds:g} --runs {len(results)}"
    command = f"make bench-lab-dr BENCH_LAB_DR_ARGS='{args}'"
    rto = _median([r.rto_api_seconds for r in results])
    restore = _median([r.restore_seconds for r in results])
    rpo = _median([r.rpo_seconds for r in results])
    drill = _median([r.drill_seconds for r in results])
    lost = _median([float(r.lost_on_cluster_loss) for r in results])
    committed = _median([float(r.committed_before_loss) for r in results])
    gib = round(results[0].pgbench_bytes / 2**30, 2)
    common: dict[str, Any] = {"command": command, "date": now, "machine": machine, "runs": len(results)}
    cases = [
        bench_report.case(
            "rto_in_place_restore_to_api_ready",
            {"rto_api_median": (rto, "s"), "restore_command_median": (restore, "s"), "pgbench_database": (gib, "GiB")},
            per_run={
                "rto_api": [r.rto_api_seconds for r in results],
                "restore_command": [r.restore_seconds for r in results],
            },
            target={"rto_api": {"max": 300, "unit": "s"}},
            **common,
        ),
        bench_report.case(
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
    checks = [r.as_dict() for r in results]
    (out / "lab-dr.json").write_text(json.dumps({"cases": cases, "runs": checks}, default=str, indent=2) + "\n")

    def show(v: float | None) -> str:
        return "not reached in every run" if v is None else f"{v:.1f} s"

    def each(values: list[float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.1f}" for v in values)

    (out / "lab-dr.md").write_text(
        "# Lab restore drill: RTO and RPO\n\n"
        f"`{command}` on {now}: {machine['cpus']} cores, {mem_gib} GiB, load {machine['load_average_at_start'][0]} at "
        f"the start. The lab's six platform hosts and the drill host share the cores. Medians of {len(results)} "
        "drills; the runs column gives each drill in order. What one drill does: maestro/lab_drill.py's "
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


if __name__ == "__main__":
    app()
