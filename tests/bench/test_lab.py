"""The lab benchmark's failover target (bench/lab.py): the leader lock's TTL plus the failover budget, per release
and per record. No lab."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import lab, report

MACHINE = {"cpus": 2, "memory_gib": 23.5, "load_average_at_start": [1.0, 1.0, 1.0]}
NOTE = "Patroni ttl {} s, loop_wait 1 s, retry_timeout 4 s (the lab's inventory)."


def _release(median: float, lost: float, **ttl: Any) -> dict[str, Any]:
    seconds = {"median": median, "worst": median + 1, "best": median - 1}
    return {
        "command": "LAB_RELEASE=trixie python -m bench lab --runs 5",
        "date": "2026-12-03",
        "machine": MACHINE,
        "lab_seconds": {},
        "failover": {
            "runs": [],
            "seconds_to_recovery": seconds,
            "lost_writes": {"median": lost, "worst": lost, "best": lost},
            "note": NOTE.format(ttl.get("ttl_seconds", 20)),
            **ttl,
        },
    }


@pytest.mark.parametrize(
    ("ttl", "median", "lost", "verdict"),
    [
        (20, 24.9, 0.0, "**met**"),
        (20, 25.3, 0.0, "**NOT met**"),
        (10, 14.8, 0.0, "**met**"),
        (10, 14.8, 1.0, "**NOT met**"),
    ],
)
def test_the_target_is_the_ttl_plus_the_budget(ttl: int, median: float, lost: float, verdict: str) -> None:
    page = lab.markdown({"trixie": _release(median, lost, ttl_seconds=ttl)})
    target = ttl + lab.FAILOVER_BUDGET_S
    assert (
        f"Target: under the lock's TTL plus 5 s ({target:g} s) median, with 0 lost acknowledged writes: {verdict}"
        in page
    )


def test_a_record_from_before_the_ttl_was_kept_reads_it_from_its_note() -> None:
    record = _release(14.8, 0.0)
    record["failover"]["note"] = NOTE.format(10)
    assert lab._ttl(record["failover"]) == 10
    record["failover"]["note"] = "no timing"
    with pytest.raises(ValueError, match="TTL"):
        lab._ttl(record["failover"])


def test_a_report_from_before_releases_keeps_each_figures_command() -> None:
    old = {
        **_release(14.8, 0.0, ttl_seconds=10),
        "lab_seconds": {"warm": 490},
        "cases": [
            {"name": "make lab: warm", "command": "python -m maestro.lab up"},
            {"name": lab.FAILOVER, "command": "python -m maestro.lab_bench --running --runs 5"},
        ],
    }
    record = lab._legacy(old)
    assert "cases" not in record
    cases = {c["name"]: c["command"] for c in lab._cases(record, "bookworm")}
    assert cases == {
        "bookworm: make lab: warm": "python -m maestro.lab up",
        f"bookworm: {lab.FAILOVER}": "python -m maestro.lab_bench --running --runs 5",
    }
    page = lab.markdown({"bookworm": record})
    assert "| warm | 490 | `python -m maestro.lab up` |" in page
    assert "Command: `python -m maestro.lab_bench --running --runs 5`." in page


def test_the_committed_page_is_what_the_code_writes_from_lab_json() -> None:
    committed = json.loads((report.OUT_DIR / "lab.json").read_text())
    assert report.problems(committed) == []
    assert (report.OUT_DIR / "lab.md").read_text() == lab.markdown(committed["releases"])
