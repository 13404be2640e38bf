"""The lab restore-drill benchmark's report (bench/lab_dr.py): each release's last figures side by side, a report
from before releases were recorded kept as Debian 12's, and pgbench from the lab release's PostgreSQL. No lab."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import lab_dr, report
from maestro.lab import releases

MACHINE = {"cpus": 2, "memory_gib": 23.5, "kernel": "k", "load_average_at_start": [1.35, 2.17, 2.9]}
COMMAND = "make bench-lab-dr BENCH_LAB_DR_ARGS='--scale 70 --writes-seconds 90 --runs 2'"
RTO_ROW = "| RTO: `maestro restore` to the API's `/readyz` 200 (median) |"


def _run(rto: float | None, rpo: float, lost: int) -> dict[str, Any]:
    """One drill's result as bench/lab_dr.py records it (maestro/lab/drill.py's DrillResult and the pgbench size)."""
    return {
        "committed_before_loss": 570,
        "lost_on_cluster_loss": lost,
        "rpo_seconds": rpo,
        "drill_seconds": 38.0,
        "expected_at_target": 80,
        "exact_at_target": True,
        "exact_after_latest": True,
        "restore_seconds": 62.1,
        "rto_api_seconds": rto,
        "pgbench_bytes": 1105567079,
    }


def _figures(date: str, *rtos: float | None) -> report.Figures:
    return {"command": COMMAND, "date": date, "machine": MACHINE, "runs": [_run(r, 32.3, 159) for r in rtos]}


def _written(out_dir: Path) -> dict[str, Any]:
    written: dict[str, Any] = json.loads((out_dir / "lab-dr.json").read_text())
    assert report.problems(written) == []
    return written


def _releases(out_dir: Path) -> dict[str, report.Figures]:
    by_release: dict[str, report.Figures] = _written(out_dir)["releases"]
    return by_release


def _rto_medians(out_dir: Path) -> dict[str, float]:
    cases = _written(out_dir)["cases"]
    return {c["release"]: c["figures"]["rto_api_median"]["value"] for c in cases if "rto_api_median" in c["figures"]}


@pytest.mark.parametrize(("suite", "major"), [("trixie", 17), ("bookworm", 15)])
def test_pgbench_is_the_lab_releases(suite: str, major: int) -> None:
    command = lab_dr.pgbench_command(releases.RELEASES[suite], 5432, 70)
    assert command.startswith(f"runuser -u postgres -- /usr/lib/postgresql/{major}/bin/pgbench ")
    assert command.endswith(" -p 5432 -i -q -s 70 pgbench")


def test_a_trixie_run_keeps_bookworms_figures(tmp_path: Path) -> None:
    bookworm = _figures("2026-11-28", 41.2, 36.2)
    lab_dr.publish({"bookworm": bookworm}, tmp_path)
    trixie = _figures("2026-12-01", 30.0, 31.0)
    lab_dr.publish({"trixie": trixie}, tmp_path)
    assert _releases(tmp_path) == {"bookworm": bookworm, "trixie": trixie}


def test_a_bookworm_run_replaces_only_bookworms_figures(tmp_path: Path) -> None:
    trixie = _figures("2026-12-01", 30.0, 31.0)
    lab_dr.publish({"trixie": trixie, "bookworm": _figures("2026-11-28", 41.2, 36.2)}, tmp_path)
    bookworm = _figures("2026-12-02", 50.0, 52.0)
    lab_dr.publish({"bookworm": bookworm}, tmp_path)
    assert _releases(tmp_path) == {"trixie": trixie, "bookworm": bookworm}
    assert _rto_medians(tmp_path) == {"trixie": 30.5, "bookworm": 51.0}


def _single_release_report() -> dict[str, Any]:
    """lab-dr.json as it was written before releases were recorded (measured on Debian 12): two cases and the runs."""
    runs = [_run(41.2, 31.73, 156), _run(36.2, 32.33, 159)]
    common: dict[str, Any] = {"command": COMMAND, "date": "2026-11-28", "machine": MACHINE, "runs": 2}
    return {
        "cases": [
            report.case("rto_in_place_restore_to_api_ready", {"rto_api_median": (38.7, "s")}, **common),
            report.case("rpo_whole_cluster_loss", {"rpo_median": (32.0, "s")}, **common),
        ],
        "runs": runs,
    }


def test_a_report_from_before_releases_is_kept_as_bookworms(tmp_path: Path) -> None:
    old = _single_release_report()
    (tmp_path / "lab-dr.json").write_text(json.dumps(old))
    trixie = _figures("2026-12-01", 30.0, 31.0)
    lab_dr.publish({"trixie": trixie}, tmp_path)
    bookworm = {"command": COMMAND, "date": "2026-11-28", "machine": MACHINE, "runs": old["runs"]}
    assert _releases(tmp_path) == {"bookworm": bookworm, "trixie": trixie}
    assert _rto_medians(tmp_path) == {"bookworm": 38.7, "trixie": 30.5}
    page = (tmp_path / "lab-dr.md").read_text()
    assert "| figure | Debian 13 (trixie) | Debian 12 (bookworm) |" in page
    assert f"{RTO_ROW} 30.5 s | 38.7 s |" in page


def test_the_page_shows_both_releases_side_by_side() -> None:
    page = lab_dr.markdown({"bookworm": _figures("2026-11-28", 41.2, 36.2), "trixie": _figures("2026-12-01", 30.0)})
    table = page.split("\n\n")[2].splitlines()
    assert table[:3] == [
        "| figure | Debian 13 (trixie) | Debian 12 (bookworm) |",
        "|---|---|---|",
        f"{RTO_ROW} 30.0 s | 38.7 s |",
    ]
    assert "| commits lost on whole-cluster loss (median) | 159 of 570 | 159 of 570 |" in table
    assert "| pgbench database | 1.03 GiB | 1.03 GiB |" in table
    assert "| date | 2026-12-01 | 2026-11-28 |" in table
    assert f"| command | `{COMMAND}` | `{COMMAND}` |" in table
    assert page.index("# Debian 13 (trixie)\n") < page.index("# Debian 12 (bookworm)\n")
    assert "| 38.7 s | 41.2 / 36.2 | < 300 s |" in page


def test_a_release_without_figures_is_absent_not_zero() -> None:
    page = lab_dr.markdown({"trixie": _figures("2026-12-01", 30.0)})
    assert "| figure | Debian 13 (trixie) |\n|---|---|\n" in page
    assert f"{RTO_ROW} 30.0 s |\n" in page
    assert "(bookworm)" not in page
    assert " 0.0 s" not in page


def test_a_run_without_rto_has_no_median() -> None:
    page = lab_dr.markdown({"trixie": _figures("2026-12-01", 30.0, None)})
    assert f"{RTO_ROW} not reached in every run |" in page
    assert "| not reached in every run | 30.0 / - | < 300 s |" in page


def test_the_committed_pages_are_what_the_code_writes(tmp_path: Path) -> None:
    committed = report.OUT_DIR / "lab-dr.json"
    shutil.copy(committed, tmp_path)
    lab_dr.publish({}, tmp_path)
    assert (tmp_path / "lab-dr.json").read_text() == committed.read_text()
    assert (tmp_path / "lab-dr.md").read_text() == (report.OUT_DIR / "lab-dr.md").read_text()


def test_nothing_to_write_again_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"lab-dr\.json holds no figures"):
        lab_dr.publish({}, tmp_path)
    assert list(tmp_path.iterdir()) == []
