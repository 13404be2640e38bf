"""Failover under load, on the lab: write through HAProxy, crash the Patroni leader's host, measure.

A writer inserts one row per transaction through HAProxy's read-write port and records every id whose COMMIT
was acknowledged. The leader's host is then killed hard (SIGKILL to its systemd: every process of the host dies
at once, like a power cut). The writer keeps trying; the result says how long writes failed, how many
acknowledged rows are missing afterwards (0 is the contract with synchronous replication), how many primaries
exist, and whether the old leader rejoined as a replica after its host was booted again.

Used by tests/lab/test_failover.py and by the lab benchmark (`python -m bench lab`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from maestro.lab.nspawn import container_init_pid, start_host, stop_host
from maestro.lab.pki import CA_FILE, SECRETS_FILE, ca_context
from maestro.lab.system import LabError
from maestro.lab.topology import HOSTS, Host, host_by_name, platform_ports

TABLE = "maestro_lab_failover"


@dataclass
class FailoverResult:
    """What one failover run measured."""

    old_leader: str
    new_leader: str
    seconds_to_recovery: float
    acknowledged: int
    lost: int
    primaries_after: int
    haproxy_primaries_after: int
    old_leader_rejoined: bool
    old_leader_role: str
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def patroni_cluster() -> list[dict[str, Any]]:
    """The members as some reachable Patroni reports them (name, role, state, ...)."""
    port = platform_ports()["patroni_rest"]
    last: Exception | None = None
    for host in HOSTS:
        if "postgres" not in host.groups:
            continue
        try:
            url = f"https://{host.ip}:{port}/cluster"
            with urllib.request.urlopen(url, timeout=2, context=ca_context()) as resp:
                members: list[dict[str, Any]] = json.load(resp)["members"]
                return members
        except OSError as exc:
            last = exc
    raise LabError(f"no Patroni member answered: {last}")


def haproxy_primaries() -> int:
    """How many servers HAProxy's read-write backend has UP (its stats page asks for the lab's credential)."""
    app1 = host_by_name("app1")
    url = f"http://{app1.ip}:{platform_ports()['haproxy_stats']}/stats;csv"
    password = json.loads(SECRETS_FILE.read_text())["haproxy_stats_password"]
    auth = base64.b64encode(f"maestro:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
    with urllib.request.urlopen(request, timeout=3) as resp:  # noqa: S310
        rows = resp.read().decode().splitlines()
    return sum(
        1
        for r in rows
        if r.startswith("postgres_primary,") and ",BACKEND," not in r and ",FRONTEND," not in r and ",UP," in r
    )


def dsn() -> str:
    sec = json.loads(SECRETS_FILE.read_text())
    app1 = host_by_name("app1")
    return (
        f"host={app1.ip} port={platform_ports()['haproxy_primary']} dbname=postgres user=postgres "
        f"password={sec['postgres_superuser_password']} sslmode=verify-ca sslrootcert={CA_FILE} connect_timeout=2"
    )


class Writer(threading.Thread):
    """Inserts rows one transaction at a time; records acknowledged ids and the longest outage."""

    def __init__(self, run_id: str) -> None:
        super().__init__(daemon=True)
        self.run_id = run_id
        self.acked: list[int] = []
        self.stop_event = threading.Event()
        self.kill_time: float | None = None
        self.recovered_at: float | None = None
        self.failed_after_kill = False
        self.errors: list[str] = []

    def run(self) -> None:
        import psycopg2

        conn = None
        seq = 0
        while not self.stop_event.is_set():
            try:
                if conn is None:
                    conn = psycopg2.connect(dsn())
                    conn.autocommit = True
                seq += 1
                with conn.cursor() as cur:
                    cur.execute("SET statement_timeout = '3s'")
                    cur.execute(f"INSERT INTO {TABLE} (run_id, seq) VALUES (%s, %s)", (self.run_id, seq))  # noqa: S608
                self.acked.append(seq)
                # Recovery is the first acknowledged write after the outage the kill caused (a write already in
                # flight can still succeed in the milliseconds the kernel takes to kill the host).
                if self.failed_after_kill and self.recovered_at is None:
                    self.recovered_at = time.monotonic()
            except Exception as exc:  # every failure mode of the old primary counts as an outage
                if self.kill_time is not None and time.monotonic() > self.kill_time:
                    self.failed_after_kill = True
                if len(self.errors) < 20:
                    self.errors.append(f"{type(exc).__name__}: {str(exc).strip()[:200]}")
                if conn is not None:
                    # The connection is being thrown away; closing it may fail in any way.
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
                time.sleep(0.1)
            else:
                time.sleep(0.01)
        if conn is not None:
            conn.close()


def _prepare_table() -> None:
    import psycopg2

    conn = psycopg2.connect(dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (run_id text NOT NULL, seq bigint NOT NULL, "
            "at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, seq))"
        )
    conn.close()


def _stored(run_id: str) -> set[int]:
    import psycopg2

    deadline = time.monotonic() + 60
    while True:
        try:
            conn = psycopg2.connect(dsn())
            with conn.cursor() as cur:
                cur.execute(f"SELECT seq FROM {TABLE} WHERE run_id = %s", (run_id,))  # noqa: S608
                rows = {int(r[0]) for r in cur.fetchall()}
            conn.close()
            return rows
        except psycopg2.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def kill_host(host: Host) -> None:
    """Crash a host: SIGKILL to its systemd kills every process in its PID namespace at once."""
    pid = container_init_pid(host)
    if pid is None:
        raise LabError(f"{host.name} is not running")
    os.kill(pid, signal.SIGKILL)


def wait_healthy(timeout: float = 180) -> list[dict[str, Any]]:
    """Wait until there is one leader and every member runs, with a synchronous standby."""
    deadline = time.monotonic() + timeout
    members: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            members = patroni_cluster()
        except LabError:
            time.sleep(1)
            continue
        leaders = [m for m in members if m["role"] == "leader"]
        running = [m for m in members if m["state"] in ("running", "streaming")]
        syncs = [m for m in members if m["role"] == "sync_standby"]
        if len(leaders) == 1 and len(running) == len(members) == 3 and syncs:
            return members
        time.sleep(1)
    raise LabError(f"the cluster did not become healthy in {timeout:.0f} s: {members}")


def run_failover(warmup: float = 3.0, settle: float = 5.0, recovery_timeout: float = 90.0) -> FailoverResult:
    """One failover under load; boots the old leader again and waits for it to rejoin."""
    members = wait_healthy()
    old = next(m["name"] for m in members if m["role"] == "leader")
    old_host = host_by_name(old)
    _prepare_table()
    run_id = f"run-{time.time_ns()}"
    writer = Writer(run_id)
    writer.start()
    time.sleep(warmup)
    if not writer.acked:
        writer.stop_event.set()
        raise LabError(f"the writer could not write before the failover: {writer.errors}")
    writer.kill_time = time.monotonic()
    kill_host(old_host)
    deadline = time.monotonic() + recovery_timeout
    while writer.recovered_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(settle)
    writer.stop_event.set()
    writer.join(timeout=15)
    if writer.recovered_at is None:
        raise LabError(f"writes did not recover within {recovery_timeout:.0f} s: {writer.errors[-5:]}")
    seconds = writer.recovered_at - writer.kill_time
    stored = _stored(run_id)
    lost = len(set(writer.acked) - stored)
    after = patroni_cluster()
    leaders = [m["name"] for m in after if m["role"] == "leader"]
    ha_primaries = haproxy_primaries()
    # The crashed host boots again; Patroni rewinds the old leader and it follows the new one.
    stop_host(old_host)
    start_host(old_host)
    rejoined_role = ""
    rejoin_deadline = time.monotonic() + 180
    while time.monotonic() < rejoin_deadline:
        try:
            me = next((m for m in patroni_cluster() if m["name"] == old), None)
        except LabError:
            me = None
        if me and me["role"] in ("replica", "sync_standby") and me["state"] in ("running", "streaming"):
            rejoined_role = str(me["role"])
            break
        time.sleep(1)
    return FailoverResult(
        old_leader=old,
        new_leader=leaders[0] if leaders else "",
        seconds_to_recovery=round(seconds, 2),
        acknowledged=len(writer.acked),
        lost=lost,
        primaries_after=len(leaders),
        haproxy_primaries_after=ha_primaries,
        old_leader_rejoined=bool(rejoined_role),
        old_leader_role=rejoined_role,
        errors=writer.errors[:5],
    )
