"""Real servers for the test suite, from Debian's packages, on loopback, stopped when the session ends.

- ``pg_server``: one PostgreSQL 15 cluster for the whole session, from ``postgres_cluster`` (which the benchmarks
  use with their own settings). PostgreSQL refuses to run as root, so when the suite runs as root (CI does) the
  server runs as the ``postgres`` OS user that Debian's package creates. Tests get their own database from
  ``pg_database`` (pytest-postgresql's DatabaseJanitor creates and drops it).
- ``redis_server``: pytest-redis's process fixture on a random free port.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_postgresql.janitor import DatabaseJanitor
from pytest_redis import factories as redis_factories

PG_BIN = Path(os.environ.get("MAESTRO_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    superuser: str
    password: str

    def url(self, dbname: str, *, user: str | None = None, password: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``dbname``, as the superuser unless told otherwise."""
        return (
            f"postgresql+psycopg://{user or self.superuser}:{password or self.password}"
            f"@{self.host}:{self.port}/{dbname}"
        )


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_cluster(
    *, settings: str, initdb_options: Sequence[str] = (), stop_mode: str = "fast", prefix: str = "maestro-pg-"
) -> Iterator[PgServer]:
    """A fresh PostgreSQL 15 cluster on a free loopback port, stopped and removed on exit.

    Args:
        settings: ``-c name=value`` server options added to the address, port and socket directory.
        initdb_options: extra ``initdb`` arguments (encoding, checksums, ...).
        stop_mode: ``pg_ctl stop -m`` mode: ``fast`` for a clean stop, ``immediate`` when the data is thrown away.
        prefix: prefix of the temporary directory that holds the data, the socket and the log.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))  # its own directory: chowned to postgres when run as root
    password = secrets.token_urlsafe(24)
    pwfile = base / "pwfile"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    data = base / "data"
    port = free_port()
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}"]
    subprocess.run(_as_postgres([*initdb, *initdb_options]), check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} {settings}"
    subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield PgServer(host="127.0.0.1", port=port, superuser="postgres", password=password)
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", stop_mode, "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if not (PG_BIN / "pg_ctl").exists():
        pytest.fail(f"PostgreSQL 15 is not installed at {PG_BIN}: run `make bootstrap-test`")
    # Throw-away test data: no fsync, and an immediate stop at the end.
    with postgres_cluster(
        settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        initdb_options=("-E", "UTF8", "--data-checksums"),
        stop_mode="immediate",
    ) as server:
        yield server


@pytest.fixture
def pg_database(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database for one test; its name is returned and it is dropped afterwards."""
    name = f"t_{secrets.token_hex(6)}"
    with DatabaseJanitor(
        user=pg_server.superuser, password=pg_server.password, host=pg_server.host, port=pg_server.port, dbname=name
    ):
        yield name


redis_server = redis_factories.redis_proc(executable=REDIS_SERVER, port=None)
