"""Start one of the Prometheus project's servers (Prometheus, Alertmanager) on loopback for a test module."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.servers import free_port


@contextlib.contextmanager
def ready_server(
    names: Sequence[str], args: Sequence[str], work: Path, *, headers: Mapping[str, str] | None = None
) -> Iterator[str]:
    """The URL of the first of `names` found on PATH, started with `args` plus a free loopback listen address,
    once its /-/ready answers (asked with `headers`); stopped on exit. Its log goes to `work`/<name>.log and fails
    the start if it dies."""
    binary = next((path for path in map(shutil.which, names) if path), None)
    assert binary, f"{names[-1]} not found: run scripts/bootstrap.sh test"
    log = work / f"{names[-1]}.log"
    port = free_port()
    proc = subprocess.Popen(
        [binary, *args, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    probe = urllib.request.Request(f"{url}/-/ready", headers=dict(headers or {}))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                urllib.request.urlopen(probe, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{names[-1]} did not become ready in 60 s"
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
