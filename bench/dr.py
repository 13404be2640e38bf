"""DR benchmark on loopback: restore time of a pgbench database from moto's S3, and RPO on whole-cluster loss.

    python -m bench dr [--scale 70] [--write-seconds 150]      (make bench-dr)

One run:
1. A fresh PostgreSQL 15 with WAL archiving (archive_timeout 60 s, as the patroni role sets) to pgBackRest on
   moto's S3 over TLS (tests/dr_loopback.py); `pgbench -i -s SCALE` (scale 70 is about 1 GB), a full backup.
2. A writer commits one row every 50 ms for `--write-seconds`; then the cluster is lost: PostgreSQL is killed
   (`immediate`) and its data directory removed, mid-write.
3. `restore --to latest` with the CLI's logic (window check, pgbackrest restore from the shared command builder,
   start, wait for promotion), then the pgbench row counts are verified. Restore time = from the restore's
   start to the server accepting connections with the counts verified.
4. RPO = commit time of the last transaction the writer saw committed - commit time of the newest one restored;
   the number of committed transactions lost is counted too.

These are loopback numbers on a shared 2-core machine (S3 in-process, no network), not the lab's RTO to the API
serving: that needs the lab drill (Patroni, replicas re-created, HAProxy, the API's /readyz).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from bench import report
from maestro.dr import pgbackrest as pgbr
from tests import dr_loopback as lb


def _counts(cluster: lb.Cluster) -> dict[str, int]:
    with cluster.connect() as conn:
        tables = ("pgbench_accounts", "pgbench_branches", "pgbench_tellers")
        rows = {t: conn.execute(f"select count(*) from {t}").fetchone() for t in tables}  # noqa: S608 - fixed names
    return {t: int(r[0]) if r else -1 for t, r in rows.items()}


def _db_size(cluster: lb.Cluster) -> int:
    with cluster.connect() as conn:
        row = conn.execute("select sum(pg_database_size(datname)) from pg_database").fetchone()
    return int(row[0]) if row else 0


class Writer(threading.Thread):
    """Commits one row per `interval` (autocommit: acknowledged when the insert returns); remembers what it saw."""

    def __init__(self, cluster: lb.Cluster, interval: float) -> None:
        super().__init__(daemon=True)
        self.cluster, self.interval = cluster, interval
        self.stop = threading.Event()
        self.acknowledged: list[int] = []
        self.first_ack: datetime | None = None
        self.last_ack: datetime | None = None

    def run(self) -> None:
        try:
            with self.cluster.connect() as conn:
                while not self.stop.is_set():
                    row = conn.execute("insert into rpo (payload) values ('x') returning id").fetchone()
                    assert row is not None
                    self.acknowledged.append(int(row[0]))
                    self.last_ack = datetime.now(UTC)
                    self.first_ack = self.first_ack or self.last_ack
                    time.sleep(self.interval)
        except Exception:  # noqa: S110 - the server is killed under the writer on purpose
            pass


def run(scale: int, write_seconds: float) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    machine = report.machine()
    figures: dict[str, Any] = {}
    with lb.loopback(archive_timeout=60, extra_options=("max_wal_size=4GB", "checkpoint_timeout=15min")) as cluster:
        t = time.monotonic()
        lb.run(lb.as_postgres(["pgbench", "-i", "-q", "-s", str(scale), "-h", str(cluster.socket_dir), "-p",
                               str(cluster.port), "-U", "postgres", "postgres"]), timeout=3600)  # fmt: skip
        figures["pgbench_init_seconds"] = round(time.monotonic() - t, 1)
        with cluster.connect() as conn:
            conn.execute("create table rpo (id bigserial primary key, payload text)")
        expected = _counts(cluster)
        figures["database_bytes"] = _db_size(cluster)

        t = time.monotonic()
        cluster.pgbackrest(pgbr.backup_command(lb.STANZA, "full", config=str(cluster.config)), timeout=7200)
        figures["full_backup_seconds"] = round(time.monotonic() - t, 1)
        backups, _ = cluster.info()
        figures["backup_repository_bytes_reported"] = backups[-1].size

        writer = Writer(cluster, 0.05)
        writer.start()
        time.sleep(write_seconds)
        # Whole-cluster loss mid-write: the server dies, its disk is gone.
        cluster.stop("immediate")
        loss_at = datetime.now(UTC)
        writer.stop.set()
        writer.join(10)
        shutil.rmtree(cluster.data)

        t = time.monotonic()
        cluster.restore(pgbr.Target(None), now=datetime.now(UTC))
        counts = _counts(cluster)
        restore_seconds = time.monotonic() - t
        if counts != expected:
            raise SystemExit(f"row counts differ after the restore: {counts} != {expected}")
        with cluster.connect() as conn:
            restored = {int(r[0]) for r in conn.execute("select id from rpo").fetchall()}
            row = conn.execute("select max(pg_xact_commit_timestamp(xmin)) from rpo").fetchone()
            newest = row[0] if row else None
        lost = [i for i in writer.acknowledged if i not in restored]
        if lost and min(lost) < max(restored, default=0):
            raise SystemExit(f"a hole in the restored history: lost {min(lost)} but restored {max(restored)}")
        assert writer.last_ack is not None and writer.first_ack is not None
        # Nothing of the writer restored: everything since its first commit is lost.
        newest = newest or writer.first_ack
        figures.update(
            {
                "restore_seconds": round(restore_seconds, 1),
                "rpo_seconds": round((writer.last_ack - newest).total_seconds(), 1),
                "committed_transactions_written": len(writer.acknowledged),
                "committed_transactions_lost": len(lost),
                "write_seconds_before_loss": write_seconds,
                "loss_at": loss_at.isoformat(),
            }
        )
    return {
        "name": "dr-loopback",
        "date": started_at.date().isoformat(),
        "machine": machine,
        "command": f"python -m bench dr --scale {scale} --write-seconds {write_seconds:g}",
        "scale": scale,
        "archive_timeout_seconds": 60,
        "figures": figures,
        "units": {
            "database_bytes": "bytes (pg_database_size, all databases)",
            "backup_repository_bytes_reported": "bytes (pgbackrest info: database size at backup)",
            "restore_seconds": "s, restore start to connections accepted and pgbench row counts verified",
            "rpo_seconds": "s of committed writes lost (last commit acknowledged - commit time of the newest restored)",
            "committed_transactions_lost": "transactions acknowledged to the writer and absent after the restore",
        },
        "note": "Loopback, S3 in-process (moto), one run, shared 2-core machine; not the lab's RTO to the API serving.",
    }


CASES: dict[str, dict[str, tuple[str, str]]] = {
    "restore-latest-loopback": {
        "restore": ("restore_seconds", "s"),
        "database": ("database_bytes", "bytes"),
        "full_backup": ("full_backup_seconds", "s"),
        "pgbench_init": ("pgbench_init_seconds", "s"),
    },
    "rpo-whole-cluster-loss-loopback": {
        "rpo": ("rpo_seconds", "s"),
        "committed": ("committed_transactions_written", "transactions"),
        "lost": ("committed_transactions_lost", "transactions"),
        "writes_before_loss": ("write_seconds_before_loss", "s"),
    },
}
"""Each case of the report: figure name -> (key in the run's figures, unit)."""


def cases(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's figures in the shape every benchmark report shares (bench/report.py)."""
    f = result["figures"]
    common = {"command": result["command"], "date": result["date"], "machine": result["machine"]}
    return [
        report.case(name, {figure: (f[key], unit) for figure, (key, unit) in figures.items()}, **common)
        for name, figures in CASES.items()
    ]


def markdown(result: dict[str, Any]) -> str:
    """docs/benchmarks/dr.md from one run's result."""
    f = result["figures"]
    gib = f["database_bytes"] / 2**30
    lines = [
        "# DR benchmark (loopback): restore time and RPO",
        "",
        f"Measured {result['date']} with `{result['command']}` (`make bench-dr`), one run, on "
        f"{result['machine']['cpus']} shared cores "
        f"(load average at start {result['machine']['load_average_at_start']}).",
        "",
        "**These are loopback numbers**: PostgreSQL 15 and pgBackRest on this machine, the repository on moto's S3 in",
        "the same process tree (TLS, no network). They are *not* the lab's RTO from the command to the API serving,",
        "which adds stopping Patroni, re-creating the replicas and the API's readiness: see [lab-dr.md](lab-dr.md).",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| database size (pgbench scale {result['scale']}) | {gib:.2f} GiB | at least 1 GB |",
        f"| pgbench -i | {f['pgbench_init_seconds']} s | |",
        f"| full backup to S3 | {f['full_backup_seconds']} s | |",
        f"| restore `latest` from S3, to connections accepted and row counts verified | {f['restore_seconds']} s "
        "| RTO < 300 s (lab, to the API) |",
        f"| RPO on whole-cluster loss, archive_timeout 60 s | {f['rpo_seconds']} s | <= 60 s |",
        f"| committed transactions lost (of {f['committed_transactions_written']}) | "
        f"{f['committed_transactions_lost']} | |",
        "",
        "Restore time covers the CLI's steps on loopback: reading the repository and checking the window,",
        "`pgbackrest restore` (the shared command builder), PostgreSQL replaying the archived WAL written after the",
        "backup and promoting, and counting the pgbench rows.",
        "",
        f"RPO: a writer committed one row every 50 ms for {f['write_seconds_before_loss']:g} s after the backup;",
        "then PostgreSQL was killed and its data directory removed. Everything in WAL segments already archived",
        "came back (checked: no hole in the restored ids); the commits in the current, unarchived segment were lost.",
        "With archive_timeout 60 s a segment is switched at least once a minute under writes, so the loss is bounded",
        "by about 60 s plus the archive-push time; where it falls inside that bound depends on when the crash happens",
        "relative to the last switch (one run, so one sample). On single-node loss the bound is 0 with synchronous",
        "replication (a replica has every acknowledged commit): that is the lab's failover test, not measured here.",
        "",
    ]
    return "\n".join(lines)


def write_report(result: dict[str, Any]) -> None:
    """docs/benchmarks/dr.{json,md} from one run's result."""
    result["cases"] = cases(result)
    report.write("dr", result, markdown(result))


def main(
    scale: Annotated[int, typer.Option(help="pgbench scale (70 is about 1 GB).")] = 70,
    write_seconds: Annotated[float, typer.Option(help="Seconds of writes between the backup and the loss.")] = 150,
    report_only: Annotated[bool, typer.Option(help="Only render dr.md again from the recorded dr.json.")] = False,
) -> None:
    """Restore time of a pgbench database from S3 and RPO on whole-cluster loss, on loopback."""
    if report_only:
        write_report(json.loads((report.OUT_DIR / "dr.json").read_text()))
        return
    result = run(scale, write_seconds)
    write_report(result)
    print(json.dumps(result["figures"], indent=2))
