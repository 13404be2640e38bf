"""Every committed benchmark report (docs/benchmarks/*.json) has the shared machine-readable shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import case, problems
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
