"""What every benchmark report shares: where it goes (docs/benchmarks/), the machine it ran on, and its
machine-readable shape.

Each report holds a `cases` list. A case gives its name, its figures (each a value with its unit), the command
that produced it, the date and the machine. Reports may keep more detail next to `cases` (raw samples, settings);
readers that compare runs only need `cases`. The benchmarks write through `case()` and `write()`;
tests/bench/test_report.py checks every committed report with `problems()`.

The lab's reports keep each Debian release's last figures side by side: `releases` maps a suite to that release's
figures, and `cases` holds every release's cases. `previous_releases()` reads them back (a report from before
releases were recorded is Debian 12's), `releases_markdown()` lays out the page and `write_releases()` writes both.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from maestro.lab import releases
from maestro.paths import ROOT

OUT_DIR = ROOT / "docs" / "benchmarks"
REQUIRED = ("name", "figures", "command", "date", "machine")
LEGACY_RELEASE = "bookworm"
"""The release a report without `releases` was measured on: the lab built only Debian 12 hosts then."""

Figures = dict[str, Any]
"""One release's figures in a lab report: whatever its benchmark records (its date, machine and command among them)."""


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


def previous_releases(
    name: str, legacy: Callable[[dict[str, Any]], Figures], out_dir: Path = OUT_DIR
) -> dict[str, Figures]:
    """Every release's figures in `<name>.json` by suite, none when there is no report. A report from before
    releases were recorded is kept as Debian 12's: `legacy` turns it into that release's figures."""
    path = out_dir / f"{name}.json"
    if not path.exists():
        return {}
    old: dict[str, Any] = json.loads(path.read_text())
    if "releases" in old:
        kept: dict[str, Figures] = old["releases"]
        return kept
    return {LEGACY_RELEASE: legacy(old)}


def release_name(suite: str) -> str:
    """How a page names a release: "Debian 13 (trixie)"."""
    return f"Debian {releases.RELEASES[suite].debian} ({suite})"


def releases_markdown(
    title: str,
    intro: str,
    by_release: Mapping[str, Figures],
    rows: Sequence[tuple[str, Callable[[Figures], str]]],
    section: Callable[[Figures], list[str]],
) -> str:
    """A page with one column per release that has figures (Debian 13 first): `rows` give each headline figure's
    label and how to show it from a release's figures; then each release's own `section`."""
    suites = [s for s in releases.RELEASES if s in by_release]
    lines = [
        f"# {title}",
        "",
        intro,
        "",
        "| figure | " + " | ".join(release_name(s) for s in suites) + " |",
        "|---|" + "---|" * len(suites),
    ]
    lines += [f"| {label} | " + " | ".join(cell(by_release[s]) for s in suites) + " |" for label, cell in rows]
    lines.append("")
    for s in suites:
        lines += [f"# {release_name(s)}", "", *section(by_release[s]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_releases(
    name: str,
    by_release: Mapping[str, Figures],
    cases: Callable[[str, Figures], list[dict[str, Any]]],
    markdown: str,
    out_dir: Path = OUT_DIR,
) -> None:
    """Write `<name>.json` with every release's figures and their cases (`cases(suite, figures)`), and its page."""
    all_cases = [c for suite, figures in by_release.items() for c in cases(suite, figures)]
    write(name, {"releases": dict(by_release), "cases": all_cases}, markdown, out_dir)


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
