"""pgBackRest for disaster recovery: the one place that builds its command lines and reads its answers.

The operator CLI (`maestro restore`), the Ansible playbooks (which receive the argv built here as an extra var),
the loopback drill in tests/maestro/dr/ and bench/dr.py all restore through `restore_command`, so what is tested is what
the operator runs.

The restorable window: a point-in-time restore needs a backup that *ended* before the target (PostgreSQL is
consistent only from the backup's stop point) and WAL archived past the target. So the window runs from the
oldest backup's stop time to the time the newest WAL segment reached the repository. PostgreSQL refuses a target
after the last commit in the archive ("recovery ended before configured recovery target was reached"): for the
very end of the archive use `latest`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Literal

LATEST = "latest"
# A WAL segment file in the repository: 24 hex digits, then `-<sha1>` and a compression suffix.
_SEGMENT = re.compile(r"(^|/)[0-9A-F]{24}-[0-9a-f]{40}(\.[a-z0-9]+)?$")


class DrError(Exception):
    """A refusal with a message for the operator; `exit_code` is what the CLI exits with."""

    exit_code = 1


class OutsideWindowError(DrError):
    """The target time is not inside the restorable window."""

    exit_code = 2


class RefusedError(DrError):
    """A dangerous step was not confirmed, or was asked of the wrong hosts."""

    exit_code = 2


class NoRoomError(DrError):
    """The disk cannot hold the restored data next to the moved-aside old data."""

    exit_code = 2


@dataclass(frozen=True)
class Target:
    """Where recovery stops: a point in time, or `latest` (the end of the archived WAL) when `time` is None."""

    time: datetime | None

    @property
    def is_latest(self) -> bool:
        return self.time is None

    def __str__(self) -> str:
        return LATEST if self.time is None else self.time.isoformat()


def parse_target(text: str) -> Target:
    """`latest` or an ISO 8601 timestamp with a UTC offset (`2026-11-28T03:00:00+00:00`, `...Z`)."""
    if text.strip().lower() == LATEST:
        return Target(None)
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DrError(
            f"--to {text!r}: not `latest` nor an ISO 8601 timestamp (e.g. 2026-11-28T03:00:00+00:00)"
        ) from None
    if parsed.tzinfo is None:
        raise DrError(f"--to {text!r}: the timestamp needs a UTC offset (e.g. +00:00 or Z)")
    return Target(parsed)


@dataclass(frozen=True)
class Backup:
    """One backup in the repository."""

    label: str
    type: str
    start: datetime
    stop: datetime
    size: int
    """Bytes of the database at backup time (what a restore writes to disk)."""


@dataclass(frozen=True)
class Window:
    """The restorable window (inclusive)."""

    start: datetime
    end: datetime

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when <= self.end

    def __str__(self) -> str:
        return f"{self.start.isoformat()} .. {self.end.isoformat()}"


def _ts(epoch: int | float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def parse_info(info_json: str, stanza: str) -> list[Backup]:
    """The backups of `stanza` from `pgbackrest --output=json info`, oldest first."""
    data: list[dict[str, Any]] = json.loads(info_json)
    for entry in data:
        if entry.get("name") != stanza:
            continue
        status = entry.get("status", {})
        if status.get("code") not in (0, 2):  # 2: no backups yet, still a readable stanza
            raise DrError(f"pgbackrest info: stanza {stanza!r}: {status.get('message', 'unknown error')}")
        backups = [
            Backup(
                label=b["label"],
                type=b["type"],
                start=_ts(b["timestamp"]["start"]),
                stop=_ts(b["timestamp"]["stop"]),
                size=int(b["info"]["size"]),
            )
            for b in entry.get("backup", [])
            if not b.get("error", False)
        ]
        return sorted(backups, key=lambda b: b.stop)
    raise DrError(f"pgbackrest info: no stanza {stanza!r} in the repository")


def archive_end(repo_ls_json: str) -> datetime | None:
    """When the newest WAL segment reached the repository (`repo-ls --recurse --output=json archive/<stanza>`).

    Repository times have whole-second resolution (S3's LastModified), so the segment arrived before the end of
    that second: the window ends there. A target in that last second that the WAL does not reach makes
    PostgreSQL stop with "recovery ended before configured recovery target was reached", never a silent
    partial restore.
    """
    entries: dict[str, dict[str, Any]] = json.loads(repo_ls_json)
    times = [e["time"] for name, e in entries.items() if e.get("type") == "file" and _SEGMENT.search(name)]
    return _ts(max(times) + 1) if times else None


def restorable_window(backups: Sequence[Backup], wal_end: datetime | None) -> Window | None:
    """From the oldest backup's stop to the newest archived WAL; None when nothing can be restored."""
    if not backups:
        return None
    start = min(b.stop for b in backups)
    end = max(wal_end or start, max(b.stop for b in backups))
    return Window(start, end)


def check_target(target: Target, window: Window | None) -> None:
    """Refuse (exit 2) a target time outside the window, or any restore when there is no backup."""
    if window is None:
        raise OutsideWindowError("there is no usable backup in the repository: nothing can be restored")
    if target.time is not None and target.time not in window:
        raise OutsideWindowError(
            f"--to {target}: outside the restorable window {window} (oldest backup end .. newest archived WAL). "
            "Pick a time inside it, or `latest` for the end of the archive."
        )


def backup_for(target: Target, backups: Sequence[Backup]) -> Backup:
    """The backup pgBackRest restores from: the newest one that ended before the target (or the newest)."""
    candidates = [b for b in backups if target.time is None or b.stop <= target.time]
    if not candidates:
        raise OutsideWindowError(f"--to {target}: no backup ended before it")
    return candidates[-1]


def _base(stanza: str, config: str | None) -> list[str]:
    return ["pgbackrest", *([f"--config={config}"] if config else []), f"--stanza={stanza}"]


def info_command(stanza: str, *, config: str | None = None) -> list[str]:
    return [*_base(stanza, config), "--output=json", "info"]


def archive_list_command(stanza: str, *, config: str | None = None) -> list[str]:
    return [*_base(stanza, config), "--output=json", "--recurse", "repo-ls", f"archive/{stanza}"]


def backup_command(
    stanza: str, backup_type: Literal["full", "diff", "incr"] = "full", *, config: str | None = None
) -> list[str]:
    return [*_base(stanza, config), f"--type={backup_type}", "backup"]


def restore_command(
    stanza: str,
    target: Target,
    *,
    config: str | None = None,
    pg_path: str | None = None,
    archive_off: bool = False,
    process_max: int | None = None,
) -> list[str]:
    """The `pgbackrest restore` argv for `target`, into an empty data directory.

    A time target stops at the last transaction committed at or before it and promotes; `latest` replays every
    archived segment and promotes. `archive_off` keeps a copy restored elsewhere (`--target new`, drills) from
    archiving into the source cluster's stanza.
    """
    argv = _base(stanza, config)
    if pg_path:
        argv.append(f"--pg1-path={pg_path}")
    if process_max:
        argv.append(f"--process-max={process_max}")
    if target.time is not None:
        when = target.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        # No --target-timeline: PostgreSQL follows the latest timeline, so a target after an earlier restore's
        # branch point lands on the restored history, not on the abandoned one the older backup belongs to.
        argv += ["--type=time", f"--target={when}", "--target-action=promote"]
    else:
        argv += ["--type=default"]
    if archive_off:
        argv.append("--archive-mode=off")
    argv.append("restore")
    return argv


def aside_path(data_dir: str, now: datetime) -> str:
    """Where an in-place restore moves the old data directory (same filesystem, so the move costs no space)."""
    p = PurePosixPath(data_dir)
    return str(p.with_name(f"{p.name}.before-restore-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"))


def room_needed(restore_bytes: int, margin: float = 0.2) -> int:
    """Free bytes a restore needs: the database size plus `margin` (WAL replayed during recovery, new files)."""
    return int(restore_bytes * (1 + margin))


def check_room(*, restore_bytes: int, free_bytes: int) -> None:
    """Refuse when the filesystem cannot take the restored data while the old data stays aside."""
    need = room_needed(restore_bytes)
    if free_bytes < need:
        raise NoRoomError(
            f"the data filesystem has {free_bytes / 2**30:.2f} GiB free, the restore needs {need / 2**30:.2f} GiB "
            "next to the moved-aside old data. Free space (see runbooks/restore-point-in-time.md) or use --target new."
        )
