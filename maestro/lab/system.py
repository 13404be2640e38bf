"""The outer machine as the lab uses it: commands, phases, waiting, detached processes and mounts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rich.console import Console

console = Console(highlight=False)


class LabError(RuntimeError):
    """A lab phase failed; the message says which and why."""


def run(
    cmd: Sequence[str | Path], *, check: bool = True, capture: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise a LabError that names it and shows its stderr."""
    args = [str(c) for c in cmd]
    proc = subprocess.run(  # noqa: S603 - argument lists built here, never a shell string
        args, check=False, text=True, capture_output=capture, env=env
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else ""
        raise LabError(f"command failed ({proc.returncode}): {' '.join(args)}\n{detail}")
    return proc


@contextlib.contextmanager
def phase(title: str) -> Iterator[None]:
    """Print one line per phase with its duration."""
    start = time.monotonic()
    console.print(f"[bold]==>[/bold] {title} ...")
    try:
        yield
    except BaseException:
        console.print(f"[red]FAILED[/red] {title} after {time.monotonic() - start:.1f} s")
        raise
    console.print(f"[green]ok[/green]  {title} ({time.monotonic() - start:.1f} s)")


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    """Poll `predicate` until it holds or raise a LabError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def process_alive(pid: int) -> bool:
    """True while process `pid` exists (a zombie not yet reaped counts)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def pid_alive(pid_file: Path) -> int | None:
    """The pid recorded in pid_file if that process still runs, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def spawn(cmd: Sequence[str], *, log: Path, pid_file: Path, cwd: Path | None = None) -> None:
    """Start a long-running process detached from this one (its own session), output appended to `log`."""
    with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(  # noqa: S603 - argument lists built here, never a shell string
            list(cmd), stdin=devnull, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
        )
    pid_file.write_text(f"{proc.pid}\n")


def stop_pid(pid: int, timeout: float) -> None:
    """Stop process `pid`: SIGTERM, then SIGKILL after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.2)
    if process_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)


def stop_process(pid_file: Path, timeout: float) -> None:
    """Stop the process `pid_file` names (stop_pid); the pid file goes."""
    pid = pid_alive(pid_file)
    if pid:
        stop_pid(pid, timeout)
    pid_file.unlink(missing_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (created 0600, never world-readable in between)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def is_mounted(path: Path) -> bool:
    """True if path is a mount point (read from /proc/self/mountinfo, which also sees overlay mounts)."""
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


def umount_tree(root: Path) -> None:
    """Unmount anything mounted below root (left by an interrupted chroot step)."""
    target = str(root.resolve())
    with open("/proc/self/mountinfo") as fh:
        mounts = [line.split()[4] for line in fh]
    for mnt in sorted((m for m in mounts if m == target or m.startswith(target + "/")), reverse=True):
        run(["umount", "-l", mnt], check=False)
