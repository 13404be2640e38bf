"""Helpers for the WAF log tailer's tests: the role's script as a module, and its metrics file as samples."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from prometheus_client.parser import text_string_to_metric_families

from maestro.paths import ROOT

Parsed = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""A metrics file as {(sample name, sorted labels): value}."""

SCRIPT = ROOT / "ansible" / "roles" / "nginx_waf" / "files" / "maestro_waf_metrics.py"


def load_tailer() -> ModuleType:
    """The script the role installs as /usr/local/bin/maestro-waf-metrics, imported as a module."""
    spec = importlib.util.spec_from_file_location("maestro_waf_metrics", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module's annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def samples(text: str) -> Parsed:
    """A metrics file parsed by prometheus_client's text parser."""
    parsed: Parsed = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in parsed, f"duplicate sample {key}"
            parsed[key] = sample.value
    return parsed


def value(parsed: Parsed, name: str, **labels: str) -> float:
    return parsed[(name, tuple(sorted(labels.items())))]


def counts(parsed: Parsed) -> tuple[int, int, int, int]:
    """The tailer's four counters: requests, blocked requests, skipped access log lines, skipped audit log lines."""
    return (
        int(value(parsed, "maestro_waf_requests_total")),
        int(value(parsed, "maestro_waf_blocked_requests_total")),
        int(value(parsed, "maestro_waf_log_lines_skipped_total", log="access")),
        int(value(parsed, "maestro_waf_log_lines_skipped_total", log="audit")),
    )


def unit_command(unit: Path) -> list[str]:
    """The ExecStart command line of a rendered systemd service."""
    lines = [line for line in unit.read_text(encoding="utf-8").splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1, f"{unit} must have exactly one ExecStart"
    return shlex.split(lines[0].removeprefix("ExecStart="))


def run_unit_command(unit: Path) -> subprocess.CompletedProcess[str]:
    """Run what systemd would run for the unit (as the current user, here root) and fail loudly on errors."""
    result = subprocess.run(unit_command(unit), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"the tailer failed: {result.stderr}"
    return result
