"""Stopping a lab host finds its nspawn even without a pid file (a lab started from another checkout, a lost pid
file). A harmless process whose command line reads like nspawn's stands in for it; no lab."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maestro.lab import nspawn
from maestro.lab.topology import BRIDGE, host_by_name


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(nspawn, "LAB_DIR", tmp_path)
    return tmp_path


def _fake_nspawn(*args: str) -> subprocess.Popen[bytes]:
    """A sleeping Python whose argv[0] is systemd-nspawn, followed by `args`."""
    code = "import time; time.sleep(60)"
    return subprocess.Popen(["bash", "-c", 'exec -a systemd-nspawn "$0" "$@"', sys.executable, "-c", code, *args])


@pytest.fixture
def stray() -> Iterator[subprocess.Popen[bytes]]:
    proc = _fake_nspawn("-b", "-M", "db2", f"--network-bridge={BRIDGE}")
    time.sleep(0.3)
    yield proc
    proc.kill()
    proc.wait()


def test_a_host_running_without_its_pid_file_is_found_and_stopped(
    lab_dir: Path, stray: subprocess.Popen[bytes]
) -> None:
    db2, db1 = host_by_name("db2"), host_by_name("db1")
    assert nspawn.unrecorded_nspawns(db2) == [stray.pid]
    assert nspawn.unrecorded_nspawns(db1) == []
    nspawn.stop_host(db1)
    assert stray.poll() is None  # another host's nspawn is left alone
    nspawn.stop_host(db2, timeout=1)
    assert stray.wait(timeout=10) is not None
    assert nspawn.unrecorded_nspawns(db2) == []


def test_the_recorded_nspawn_and_other_bridges_are_not_strays(lab_dir: Path) -> None:
    db3 = host_by_name("db3")
    other = _fake_nspawn("-b", "-M", "db3", "--network-bridge=elsewhere")
    recorded = _fake_nspawn("-b", "-M", "db3", f"--network-bridge={BRIDGE}")
    try:
        time.sleep(0.3)
        (lab_dir / "hosts" / "db3").mkdir(parents=True)
        (lab_dir / "hosts" / "db3" / "nspawn.pid").write_text(f"{recorded.pid}\n")
        assert nspawn.unrecorded_nspawns(db3) == []
    finally:
        for proc in (other, recorded):
            proc.kill()
            proc.wait()
