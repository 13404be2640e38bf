"""A PostgreSQL 15 + pgBackRest cluster on loopback with its repository on moto's S3: the drill's machinery.

Used by tests/maestro/dr/ (the point-in-time drill, `servers` marker) and bench/dr.py (restore time, RPO). Everything
binds 127.0.0.1 or a private Unix socket directory, on free ports, and stops when the context manager exits.

- S3: `maestro.lab.s3.build_server` (moto's app behind TLS; pgBackRest speaks only HTTPS) with a throwaway
  certificate for `localhost`. The certificate names the host, so TLS is verified (`repo1-storage-ca-file`),
  no `repo1-s3-verify-tls=n` needed.
- PostgreSQL runs as the `postgres` OS user when we are root (it refuses root), as does pgBackRest.
- Restores go through `maestro.dr.pgbackrest.restore_command` and `prepare_data_dir`, as the playbook's do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from maestro.dr import pgbackrest as pgbr
from tests.servers import PG_BIN, free_port

BUCKET = "maestro-backups"
STANZA = "drill"


def as_postgres(cmd: Sequence[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run an argument list (never a shell string), capturing its output."""
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=timeout)


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


@dataclass
class S3Endpoint:
    """moto's S3 behind TLS on 127.0.0.1 (the certificate names `localhost`)."""

    port: int
    ca_file: Path
    server: Any = field(repr=False)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"


@contextlib.contextmanager
def s3_endpoint(workdir: Path) -> Iterator[S3Endpoint]:
    from maestro.lab.s3 import build_server

    # One log line per S3 request would bury the drill's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    cert, key = workdir / "s3.crt", workdir / "s3.key"
    run(
        ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
    )  # fmt: skip
    cert.chmod(0o644)
    port = free_port()
    server = build_server("127.0.0.1", port, str(cert), str(key))
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=f"https://localhost:{port}",
            verify=str(cert),
            aws_access_key_id="drill",
            aws_secret_access_key="drill-secret",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)
        yield S3Endpoint(port=port, ca_file=cert, server=server)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Cluster:
    """One PostgreSQL data directory with archiving to the S3 repository; `start`/`stop` run it."""

    base: Path
    s3: S3Endpoint
    port: int
    archive_timeout: int = 0
    extra_options: Sequence[str] = ()

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def config(self) -> Path:
        return self.base / "pgbackrest.conf"

    @property
    def socket_dir(self) -> Path:
        return self.base

    def write_config(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    "[global]",
                    "repo1-type=s3",
                    # moto's backend is global to the process: a path per cluster keeps repositories apart.
                    f"repo1-path=/{self.base.name}",
                    f"repo1-s3-bucket={BUCKET}",
                    "repo1-s3-endpoint=localhost",
                    f"repo1-storage-port={self.s3.port}",
                    "repo1-s3-region=us-east-1",
                    "repo1-s3-uri-style=path",
                    "repo1-s3-key=drill",
                    "repo1-s3-key-secret=drill-secret",
                    f"repo1-storage-ca-file={self.s3.ca_file}",
                    "repo1-retention-full=2",
                    # Errors fail fast instead of retrying for a minute.
                    "io-timeout=10",
                    "process-max=2",
                    "compress-type=zst",
                    "start-fast=y",
                    "log-level-console=warn",
                    "log-level-file=off",
                    f"lock-path={self.base / 'lock'}",
                    f"spool-path={self.base / 'spool'}",
                    f"[{STANZA}]",
                    f"pg1-path={self.data}",
                    f"pg1-port={self.port}",
                    f"pg1-socket-path={self.socket_dir}",
                    "",
                ]
            )
        )
        _chown(self.config)

    def initdb(self) -> None:
        run(
            as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                         "--data-checksums"])
        )  # fmt: skip

    def options(self) -> str:
        archive = f"pgbackrest --config={self.config} --stanza={STANZA} archive-push %p"
        opts = [
            "listen_addresses=''",
            f"port={self.port}",
            f"unix_socket_directories={self.socket_dir}",
            "wal_level=replica",
            "archive_mode=on",
            f"archive_command='{archive}'",
            f"archive_timeout={self.archive_timeout}",
            # The commit time of every transaction, as recovery_target_time compares it.
            "track_commit_timestamp=on",
            *self.extra_options,
        ]
        return " ".join(f"-c {o}" for o in opts)

    def start(self) -> None:
        run(
            as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", self.options(), "-l",
                         str(self.base / "postgres.log"), "-t", "600", "-w", "start"])
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]), check=False)

    def pgbackrest(self, argv: Sequence[str], timeout: float = 1800) -> str:
        done = run(as_postgres(argv), check=False, timeout=timeout)
        if done.returncode != 0:
            raise pgbr.DrError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done.stdout

    def connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def wait_promoted(self, timeout: float = 600) -> None:
        """Wait until recovery has ended and the server accepts writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception), self.connect() as conn:
                row = conn.execute("select pg_is_in_recovery()").fetchone()
                if row is not None and row[0] is False:
                    return
            if not (self.data / "postmaster.pid").exists():  # recovery failed (FATAL) and the server exited
                log = (self.base / "postgres.log").read_text(errors="replace").splitlines()[-5:]
                raise pgbr.DrError("PostgreSQL stopped during recovery: " + " | ".join(log))
            time.sleep(0.2)
        raise TimeoutError(f"recovery did not finish in {timeout} s (see {self.base / 'postgres.log'})")

    def wait_archived(self, timeout: float = 120) -> None:
        """Switch WAL and wait until that segment is in the repository."""
        with self.connect() as conn:
            row = conn.execute("select pg_walfile_name(pg_switch_wal())").fetchone()
            assert row is not None
            segment = str(row[0])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                last = conn.execute("select coalesce(last_archived_wal, '') from pg_stat_archiver").fetchone()
                if last is not None and str(last[0]) >= segment:
                    return
                time.sleep(0.2)
        raise TimeoutError(f"segment {segment} was not archived in {timeout} s")

    # What the CLI and the playbook run, here against the loopback repository.
    def info(self) -> tuple[list[pgbr.Backup], pgbr.Window | None]:
        backups = pgbr.parse_info(self.pgbackrest(pgbr.info_command(STANZA, config=str(self.config))), STANZA)
        wal_end = pgbr.archive_end(self.pgbackrest(pgbr.archive_list_command(STANZA, config=str(self.config))))
        return backups, pgbr.restorable_window(backups, wal_end)

    def restore(self, target: pgbr.Target, *, now: datetime) -> str | None:
        """Check the window, move any old data aside, restore, start and wait for promotion; the aside path."""
        backups, window = self.info()
        pgbr.check_target(target, window)
        aside = prepare_data_dir(self.data, restore_bytes=pgbr.backup_for(target, backups).size, now=now)
        self.pgbackrest(pgbr.restore_command(STANZA, target, config=str(self.config)))
        self.start()
        self.wait_promoted()
        return aside


def prepare_data_dir(data: Path, *, restore_bytes: int, now: datetime) -> str | None:
    """Make `data` an empty directory for a restore; an old, non-empty one is renamed aside, never deleted.

    Refuses (NoRoomError) when the filesystem cannot hold the restore while the old data is kept.
    """
    aside: str | None = None
    if data.exists() and any(data.iterdir()):
        pgbr.check_room(restore_bytes=restore_bytes, free_bytes=shutil.disk_usage(data.parent).free)
        aside = pgbr.aside_path(str(data), now)
        data.rename(aside)
    data.mkdir(mode=0o700, exist_ok=True)
    _chown(data)
    return aside


@contextlib.contextmanager
def loopback(archive_timeout: int = 0, extra_options: Sequence[str] = ()) -> Iterator[Cluster]:
    """S3 endpoint + a fresh, running, archiving cluster with its stanza; everything is removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="maestro-dr-"))
    base.chmod(0o755)
    _chown(base)
    try:
        with s3_endpoint(base) as s3:
            cluster = Cluster(base, s3, free_port(), archive_timeout, extra_options)
            cluster.write_config()
            cluster.initdb()
            cluster.start()
            try:
                cluster.pgbackrest(["pgbackrest", f"--config={cluster.config}", f"--stanza={STANZA}", "stanza-create"])
                yield cluster
            finally:
                cluster.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)
