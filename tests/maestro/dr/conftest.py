"""Fakes for the DR CLI: a playbook runner that records calls and answers `backup.yml --tags info` from a repo."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from maestro.dr import commands as dr

STANZA = "maestro-prod"
DATA_DIR = "/var/lib/postgresql/15/maestro-prod"


def info_json(backups: Sequence[tuple[str, datetime, datetime, int]]) -> str:
    """`pgbackrest --output=json info` as 2.45 prints it, for (label, start, stop, size) backups."""
    return json.dumps(
        [
            {
                "name": STANZA,
                "status": {"code": 0 if backups else 2, "message": "ok"},
                "backup": [
                    {
                        "label": label,
                        "type": "full",
                        "error": False,
                        "timestamp": {"start": int(start.timestamp()), "stop": int(stop.timestamp())},
                        "info": {"size": size, "delta": size, "repository": {"size": size // 4, "delta": size // 4}},
                    }
                    for label, start, stop, size in backups
                ],
            }
        ]
    )


def archive_json(segment_times: Sequence[datetime]) -> str:
    """`pgbackrest repo-ls --recurse --output=json archive/<stanza>` with one segment per time."""
    entries: dict[str, Any] = {".": {"type": "path"}, "archive.info": {"type": "file", "size": 253, "time": 1}}
    for n, t in enumerate(segment_times, start=1):
        name = f"15-1/0000000100000000/0000000100000000000000{n:02X}-{'a' * 40}.zst"
        entries[name] = {"type": "file", "size": 1000, "time": int(t.timestamp())}
    return json.dumps(entries)


@dataclass
class FakeAnsible:
    info: str
    archive: str
    calls: list[tuple[str, Path, dict[str, Any], list[str]]] = field(default_factory=list)

    def __call__(self, playbook: str, inventory: Path, extra: Mapping[str, Any], tags: Sequence[str]) -> None:
        self.calls.append((playbook, inventory, json.loads(json.dumps(dict(extra))), list(tags)))
        if playbook == "backup.yml" and "info" in tags:
            dest = Path(extra["backup_info_dest"])
            (dest / "info.json").write_text(self.info)
            (dest / "archive.json").write_text(self.archive)
            (dest / "meta.json").write_text(json.dumps({"stanza": STANZA, "data_dir": DATA_DIR}))

    def playbooks(self) -> list[tuple[str, list[str]]]:
        return [(c[0], c[3]) for c in self.calls]


@pytest.fixture
def fake_ansible(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnsible]:
    fake = FakeAnsible(info="[]", archive="{}")
    monkeypatch.setattr(dr, "playbook_runner", fake)
    yield fake
