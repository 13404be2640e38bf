"""The web UI benchmark's report (bench/ui.py): one section per place (loopback, the lab), a run of one place keeping
the other's last figures, in the shared report shape. No browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report, ui

MACHINE = {"cpus": 2, "memory_gib": 23.5, "kernel": "k", "cpu": "c", "load_average_at_start": [1.0, 1.0, 1.0]}


def _measured(command: str, edge_cold: float) -> dict[str, Any]:
    figures = {"cold_median_ms": edge_cold, "cold_max_ms": edge_cold + 10, "warm_median_ms": 50.0, "warm_max_ms": 60.0}
    return {
        "date": "2026-12-03 21:00 UTC",
        "command": command,
        "machine": MACHINE,
        "runs": 7,
        "load_before": [1.0, 1.0, 1.0],
        "load_after": [1.0, 1.0, 1.0],
        "units": "milliseconds",
        "figures": {"edge": figures, "mlflow": {**figures, "cold_median_ms": 100.0}},
    }


def test_each_place_keeps_the_others_last_run(tmp_path: Path) -> None:
    ui.write_report("loopback", _measured("python -m bench ui --runs 7", 400.0), tmp_path)
    ui.write_report("lab", _measured("python -m bench ui --runs 7 --lab", 900.0), tmp_path)
    ui.write_report("lab", _measured("python -m bench ui --runs 7 --lab", 800.0), tmp_path)
    written = json.loads((tmp_path / "ui.json").read_text())
    assert report.problems(written) == []
    assert set(written["places"]) == {"loopback", "lab"}
    assert written["places"]["loopback"]["figures"]["edge"]["cold_median_ms"] == 400.0
    assert written["places"]["lab"]["figures"]["edge"]["cold_median_ms"] == 800.0  # the newer lab run replaced it
    assert len(written["cases"]) == 4
    page = (tmp_path / "ui.md").read_text()
    assert "## Loopback" in page and "## Lab" in page
    assert "| 800.0 |" in page and "| 400.0 |" in page and "| 900.0 |" not in page
    assert "--lab" in page


def test_a_first_run_writes_only_its_place(tmp_path: Path) -> None:
    ui.write_report("lab", _measured("python -m bench ui --runs 7 --lab", 800.0), tmp_path)
    written = json.loads((tmp_path / "ui.json").read_text())
    assert set(written["places"]) == {"lab"} and "## Loopback" not in (tmp_path / "ui.md").read_text()
