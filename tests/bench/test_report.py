"""Every committed benchmark report (docs/benchmarks/*.json) has the shared machine-readable shape; the lab's
reports keep each release's figures side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import case, previous_releases, problems, releases_markdown, write_releases
from maestro.paths import ROOT

REPORTS = sorted((ROOT / "docs" / "benchmarks").glob("*.json"))


def test_there_are_reports() -> None:
    assert {p.stem for p in REPORTS} >= {"api", "dr", "lab", "lab-dr", "mlflow-proxy", "waf"}


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_report_has_the_shared_shape(path: Path) -> None:
    assert problems(json.loads(path.read_text())) == []


def test_a_case_built_by_case_conforms() -> None:
    c = case("x", {"p99": (4.8, "ms"), "missing": (None, "s")}, command="make x", date="d", machine={"a": 1})
    assert problems({"cases": [c]}) == []


@pytest.mark.parametrize(
    ("report", "problem"),
    [
        ({}, "no non-empty `cases` list"),
        ({"cases": []}, "no non-empty `cases` list"),
        ({"cases": ["x"]}, "case 0: not an object"),
        (
            {"cases": [{"name": "n", "figures": {"p": 1}, "command": "c", "date": "d", "machine": {"a": 1}}]},
            "n: figure 'p' is not {value: number|null, unit: text}",
        ),
        (
            {
                "cases": [
                    {
                        "name": "n",
                        "figures": {"p": {"value": "1", "unit": "ms"}},
                        "command": "c",
                        "date": "d",
                        "machine": {"a": 1},
                    }
                ]
            },
            "n: figure 'p' is not {value: number|null, unit: text}",
        ),
        (
            {
                "cases": [
                    {
                        "name": "n",
                        "figures": {"p": {"value": 1, "unit": ""}},
                        "command": "c",
                        "date": "d",
                        "machine": {"a": 1},
                    }
                ]
            },
            "n: figure 'p' is not {value: number|null, unit: text}",
        ),
        (
            {"cases": [{"name": "n", "figures": {"p": {"value": 1, "unit": "ms"}}, "date": "d", "machine": {"a": 1}}]},
            "n: no `command`",
        ),
        (
            {
                "cases": [
                    {
                        "name": "n",
                        "figures": {"p": {"value": 1, "unit": "ms"}},
                        "command": "c",
                        "date": "d",
                        "machine": "2 cores",
                    }
                ]
            },
            "n: `machine` is not an object",
        ),
    ],
)
def test_problems_names_what_is_wrong(report: object, problem: str) -> None:
    assert problem in problems(report)


def _page(by_release: dict[str, dict[str, object]]) -> str:
    return releases_markdown(
        "T", "intro", by_release, [("seconds", lambda f: str(f["seconds"]))], lambda f: [f"section {f['seconds']}"]
    )


def test_the_releases_stand_side_by_side_debian_13_first() -> None:
    page = _page({"bookworm": {"seconds": 12}, "trixie": {"seconds": 13}})
    assert page.splitlines()[:7] == [
        "# T",
        "",
        "intro",
        "",
        "| figure | Debian 13 (trixie) | Debian 12 (bookworm) |",
        "|---|---|---|",
        "| seconds | 13 | 12 |",
    ]
    assert page.index("# Debian 13 (trixie)\n\nsection 13") < page.index("# Debian 12 (bookworm)\n\nsection 12")


def test_a_release_without_figures_has_no_column() -> None:
    page = _page({"trixie": {"seconds": 13}})
    assert "| figure | Debian 13 (trixie) |\n|---|---|\n| seconds | 13 |\n" in page
    assert "bookworm" not in page


def test_releases_are_written_and_read_back(tmp_path: Path) -> None:
    by_release = {"trixie": {"seconds": 13}, "bookworm": {"seconds": 12}}
    machine = {"cpus": 2}

    def cases(suite: str, f: dict[str, int]) -> list[dict[str, object]]:
        return [case(f"{suite}: x", {"s": (f["seconds"], "s")}, command="c", date="d", machine=machine)]

    write_releases("r", by_release, cases, "page\n", tmp_path)
    written = json.loads((tmp_path / "r.json").read_text())
    assert problems(written) == []
    assert [c["name"] for c in written["cases"]] == ["trixie: x", "bookworm: x"]
    assert (tmp_path / "r.md").read_text() == "page\n"
    assert previous_releases("r", lambda old: {"legacy": True}, tmp_path) == by_release


def test_a_report_from_before_releases_is_debian_12s(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps({"cases": ["c"], "seconds": 12}))
    assert previous_releases("r", lambda old: {"seconds": old["seconds"]}, tmp_path) == {"bookworm": {"seconds": 12}}


def test_no_report_has_no_releases(tmp_path: Path) -> None:
    assert previous_releases("r", lambda old: old, tmp_path) == {}
