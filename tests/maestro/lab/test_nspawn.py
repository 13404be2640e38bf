"""Stopping a lab host finds its nspawn even without a pid file (a lab started from another checkout, a lost pid
file). A harmless process whose command line reads like nspawn's stands in for it, for hosts no lab has (a lab
that runs on this machine is never touched); no lab."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from maestro.lab import nspawn
from maestro.lab.topology import BRIDGE, Host

# Names no lab host has, so that a lab running on this machine is never found, let alone stopped.
ONE, OTHER = Host("test-nspawn-a", "10.77.41.201", ()), Host("test-nspawn-b", "10.77.41.202", ())


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
    proc = _fake_nspawn("-b", "-M", ONE.name, f"--network-bridge={BRIDGE}")
    time.sleep(0.3)
    yield proc
    proc.kill()
    proc.wait()


def test_a_host_running_without_its_pid_file_is_found_and_stopped(
    lab_dir: Path, stray: subprocess.Popen[bytes]
) -> None:
    assert nspawn.unrecorded_nspawns(ONE) == [stray.pid]
    assert nspawn.unrecorded_nspawns(OTHER) == []
    nspawn.stop_host(OTHER)
    assert stray.poll() is None  # another host's nspawn is left alone
    nspawn.stop_host(ONE, timeout=1)
    assert stray.wait(timeout=10) is not None
    assert nspawn.unrecorded_nspawns(ONE) == []


def test_the_recorded_nspawn_and_other_bridges_are_not_strays(lab_dir: Path) -> None:
    other = _fake_nspawn("-b", "-M", OTHER.name, "--network-bridge=elsewhere")
    recorded = _fake_nspawn("-b", "-M", OTHER.name, f"--network-bridge={BRIDGE}")
    try:
        time.sleep(0.3)
        (lab_dir / "hosts" / OTHER.name).mkdir(parents=True)
        (lab_dir / "hosts" / OTHER.name / "nspawn.pid").write_text(f"{recorded.pid}\n")
        assert nspawn.unrecorded_nspawns(OTHER) == []
    finally:
        for proc in (other, recorded):
            proc.kill()
            proc.wait()
