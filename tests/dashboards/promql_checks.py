"""Checkers shared by the dashboard and rule tests: which metrics a PromQL expression reads, which metrics exist,
and a real parse of dashboard queries through promtool."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import promql_parser
import yaml

FIXTURE = Path(__file__).parent / "fixtures" / "exporter_metrics.yml"

# Grafana's built-in and our template variables, replaced by values that keep the query's shape for parsing.
_DURATION_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
_VAR = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")


def substitute_variables(expr: str) -> str:
    """A dashboard query with Grafana variables replaced: durations by durations, label values by 'x'."""
    return _VAR.sub(lambda m: _DURATION_VARS.get(m.group(1), "x"), expr)


def metric_names(expr: str) -> set[str]:
    """Every metric name an expression selects; a selector without a literal name is an error (unverifiable)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
                return
            literal = [m.value for m in node.matchers.matchers if m.name == "__name__" and str(m.op).endswith("Equal")]
            if not literal:
                raise ValueError(f"selector without a literal metric name in {expr!r}")
            names.update(literal)
            return
        for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)
        for arg in getattr(node, "args", None) or ():
            walk(arg)

    walk(promql_parser.parse(expr))
    return names


def exporter_metrics(fixture: Path = FIXTURE) -> set[str]:
    """Metric names of every exporter listed in the fixture."""
    data = yaml.safe_load(fixture.read_text())
    return {m for source in data.values() for m in source["metrics"]}


def registry_metrics(registry: Any) -> set[str]:
    """The sample names a prometheus_client registry exposes, including families without samples yet."""
    out: set[str] = set()
    for family in registry.collect():
        if family.type == "counter":
            out.add(f"{family.name}_total")
        elif family.type == "histogram":
            out.update(f"{family.name}{s}" for s in ("_bucket", "_sum", "_count"))
        elif family.type == "summary":
            out.update({family.name, f"{family.name}_sum", f"{family.name}_count"})
        else:
            out.add(family.name)
    return out


def unknown_metrics(exprs: Iterable[str], known: set[str]) -> dict[str, set[str]]:
    """{expression: metrics it uses that are not known}, only for expressions with such metrics."""
    out: dict[str, set[str]] = {}
    for expr in exprs:
        missing = metric_names(substitute_variables(expr)) - known
        if missing:
            out[expr] = missing
    return out


def promtool_parse(exprs: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `promtool check rules` on the expressions as recording rules (promtool's parser is Prometheus')."""
    rules = [{"record": f"check:expr_{i}:x", "expr": substitute_variables(e)} for i, e in enumerate(exprs)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
        return subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False)
