"""The machine-readable shape every benchmark report shares (docs/benchmarks/*.json).

Each report holds a `cases` list. A case gives its name, its figures (each a value with its unit), the command
that produced it, the date and the machine. Reports may keep more detail next to `cases` (raw samples, settings);
readers that compare runs only need `cases`. The benchmarks write through `case()`; tests/unit/
test_benchmark_reports.py checks every committed report with `problems()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REQUIRED = ("name", "figures", "command", "date", "machine")


def case(
    name: str,
    figures: Mapping[str, tuple[float | int | None, str]],
    *,
    command: str,
    date: str,
    machine: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """One case: `figures` maps a figure's name to (value, unit); a value is None when it was not measured."""
    return {
        "name": name,
        "figures": {key: {"value": value, "unit": unit} for key, (value, unit) in figures.items()},
        "command": command,
        "date": date,
        "machine": dict(machine),
        **extra,
    }


def problems(report: Any) -> list[str]:
    """What keeps `report` from the shared shape; empty when it conforms."""
    if not isinstance(report, dict) or not isinstance(report.get("cases"), list) or not report["cases"]:
        return ["no non-empty `cases` list"]
    found: list[str] = []
    for i, c in enumerate(report["cases"]):
        label = c.get("name", f"case {i}") if isinstance(c, dict) else f"case {i}"
        if not isinstance(c, dict):
            found.append(f"{label}: not an object")
            continue
        found += [f"{label}: no `{key}`" for key in REQUIRED if not c.get(key)]
        figures = c.get("figures")
        if isinstance(figures, dict):
            for key, fig in figures.items():
                ok = isinstance(fig, dict) and set(fig) == {"value", "unit"} and isinstance(fig["unit"], str)
                if not ok or not fig["unit"] or not (fig["value"] is None or isinstance(fig["value"], int | float)):
                    found.append(f"{label}: figure {key!r} is not {{value: number|null, unit: text}}")
        if not isinstance(c.get("machine"), dict):
            found.append(f"{label}: `machine` is not an object")
    return found
