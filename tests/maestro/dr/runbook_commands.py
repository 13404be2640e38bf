"""The commands quoted in runbooks/*.md (not runbooks/alerts/): parsed from their ```sh blocks."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from maestro.paths import ROOT

RUNBOOKS = ROOT / "runbooks"
PAGES = (
    "restore-point-in-time.md",
    "restore-whole-cluster-loss.md",
    "restore-kubernetes.md",
    "switchover.md",
    "failover-did-not-happen.md",
    "etcd-quorum-loss.md",
    "backups-failing.md",
    "wal-archive-disk-full.md",
    "rotate-secrets.md",
    "region-loss.md",
)
# Programs quoted that `make test` cannot run (they need the lab's hosts or a cloud); each page says so.
LAB_ONLY = {"patronictl", "etcdctl", "systemctl", "journalctl", "ls"}
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Command:
    page: str
    argv: list[str]

    @property
    def program(self) -> str:
        return self.argv[0]


def commands(page: str) -> list[Command]:
    text = (RUNBOOKS / page).read_text()
    found = []
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(Command(page, shlex.split(line)))
    return found


def all_commands() -> list[Command]:
    return [c for page in PAGES for c in commands(page)]


def psql_sql(argv: list[str]) -> tuple[str, str | None]:
    """(SQL, database) of a `psql ... -c SQL` line."""
    sql, db = None, None
    for i, arg in enumerate(argv):
        if arg.startswith("-") and not arg.startswith("--") and arg.endswith("c"):
            sql = argv[i + 1]
        if arg == "-d":
            db = argv[i + 1]
    assert sql is not None, f"psql without -c: {argv}"
    return sql, db
