"""What every benchmark report shares: where it goes (docs/benchmarks/), the machine it ran on, and its
machine-readable shape.

Each report holds a `cases` list. A case gives its name, its figures (each a value with its unit), the command
that produced it, the date and the machine. Reports may keep more detail next to `cases` (raw samples, settings);
readers that compare runs only need `cases`. The benchmarks write through `case()` and `write()`;
tests/bench/test_report.py checks every committed report with `problems()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maestro.paths import ROOT

OUT_DIR = ROOT / "docs" / "benchmarks"
REQUIRED = ("name", "figures", "command", "date", "machine")


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded: how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """The machine a benchmark runs on (cores, memory, kernel, CPU model) and its load at the start."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "load_average_at_start": load_average(),
    }


def write(name: str, report: Mapping[str, Any], markdown: str, out_dir: Path = OUT_DIR) -> None:
    """Write `<name>.json` (the report) and `<name>.md` (its page) into docs/benchmarks/ or `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)


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
