"""The restore drill on the lab: real Patroni, pgBackRest and the S3 repository, driven through the operator CLI.

1. A known workload through HAProxy: one row per transaction; each row's commit time comes back from
   `track_commit_timestamp` (the clock recovery_target_time is compared with).
2. `maestro backup`, then more writes with a gap in the middle (T falls inside it), all archived.
3. More writes that only a WAL switch would archive; then the whole cluster is lost: every Patroni is killed with
   SIGKILL and two members' data directories are deleted; the third member's PostgreSQL outlives its Patroni.
4. `maestro drill --to latest --keep` restores the repository into the drill host (dr1) and leaves it running:
   everything archived is back, in order; the commits after the last archived segment are counted as lost (RPO).
5. `maestro restore --to T --target in-place --yes` rebuilds the cluster: exactly the commits up to T are present,
   row for row and by checksum; one leader, every replica streaming, and the API answers `/readyz` again (RTO).

Used by tests/lab/test_restore_drill.py and by the lab DR benchmark (bench/lab_dr.py, `make bench-lab-dr`), which
adds a pgbench database of about 1 GB before the backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from maestro.lab import releases
from maestro.lab.failover import dsn, wait_healthy
from maestro.lab.nspawn import ssh
from maestro.lab.system import LabError
from maestro.lab.topology import INVENTORY, host_by_name, platform_ports
from maestro.paths import ROOT

TABLE = "maestro_drill"
DRILL_HOST = "dr1"


def data_dir() -> str:
    """The cluster's data directory (the lab's release's PostgreSQL major: the lab's cluster is always new)."""
    return f"/var/lib/postgresql/{releases.current().postgres_major}/maestro-lab"


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
    port = platform_ports()["postgres"]
    sql = f"SELECT id, md5(payload) FROM {TABLE} ORDER BY id"  # noqa: S608
    out = ssh(
        host_by_name(DRILL_HOST),
        f"runuser -u postgres -- psql -h /var/run/postgresql -p {port} -d postgres -AtF, -c '{sql}'",
    ).stdout
    return [(int(i), m) for i, m in (line.split(",") for line in out.splitlines() if line)]


def stop_drill_copy() -> None:
    """Stop the copy `maestro drill --keep` left running (its data stays until the next drill moves it aside)."""
    ssh(
        host_by_name(DRILL_HOST),
        f"runuser -u postgres -- /usr/lib/postgresql/{releases.current().postgres_major}/bin/pg_ctl -D {data_dir()} "
        "-m fast -w stop",
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
    raise LabError(f"WAL segment {segment} was not archived within {timeout:.0f} s")


# For the crash, systemd must not restart Patroni (Restart=on-failure, 100 ms): a restarted Patroni would race the
# deletion of the data directory. The drop-in lives in /run and is removed right after.
_NO_RESTART = "/run/systemd/system/patroni.service.d/maestro-lab-crash.conf"


def lose_cluster() -> None:
    """Whole-cluster loss: every Patroni is killed with SIGKILL. On the leader and one replica PostgreSQL dies with
    it and the data directory is deleted. On the other replica only Patroni's own process is killed (its unit stops
    only Patroni), so its PostgreSQL keeps running, cut off from any primary, and holds the port: the in-place
    restore must stop that server before Patroni can start one there."""
    members = wait_healthy()
    survivor = next(m["name"] for m in reversed(members) if m["role"] != "leader")
    for m in members:
        left = m["name"] == survivor
        ssh(
            host_by_name(m["name"]),
            f"mkdir -p {Path(_NO_RESTART).parent} && printf '[Service]\\nRestart=no\\n' > {_NO_RESTART} && "
            f"systemctl daemon-reload && systemctl kill --kill-whom={'main' if left else 'all'} --signal=SIGKILL "
            f"patroni; {'' if left else f'rm -rf {data_dir()}; '}rm -f {_NO_RESTART}; systemctl daemon-reload; "
            "systemctl reset-failed patroni",
        )


def maestro(*args: str) -> float:
    """Run the operator CLI against the lab inventory; the seconds it took. Raises on a non-zero exit."""
    started = time.monotonic()
    proc = subprocess.run(  # noqa: S603 - fixed argument list
        [str(Path(sys.executable).parent / "maestro"), *args, "--inventory", str(INVENTORY)],
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise LabError(f"maestro {' '.join(args)} exited {proc.returncode}")
    return time.monotonic() - started


class ReadyWatch(threading.Thread):
    """Polls the API's /readyz where it is served, on the platform network from the monitoring host (the edge
    publishes no /readyz); records when it first answers 200 after it was seen failing."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.url = f"http://{host_by_name('app1').ip}:{platform_ports()['api']}/readyz"
        self.monitor = host_by_name("mon1")
        self.started = time.monotonic()
        self.saw_failure = False
        self.ready_at: float | None = None
        self.stop_event = threading.Event()

    def ready(self) -> bool:
        probe = f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 {self.url}"
        try:
            return ssh(self.monitor, probe, check=False).stdout.strip() == "200"
        except (LabError, OSError):
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
    postmasters: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    # One PostgreSQL per member: a server left running from the old data directory would hold the port while Patroni
    # reports on it as if it were the new one.
    postmaster = "pgrep -c -u postgres -f '^/usr/lib/postgresql/[0-9]+/bin/postgres -D '"
    postmasters = {
        m["name"]: int(ssh(host_by_name(m["name"]), postmaster, check=False).stdout.strip() or 0) for m in members
    }
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
        postmasters=postmasters,
    )
