"""Fixtures of the observability tests: the rendered rules, the dashboards and the set of existing metrics."""

from __future__ import annotations

import shutil

import pytest

from dashboards.alerts import GROUPS
from dashboards.boards import BOARDS
from dashboards.model import Alert

ALL_ALERTS: list[Alert] = [a for g in GROUPS for a in g.alerts]


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    # Not a skip: without promtool the rule checks would silently not run (scripts/bootstrap.sh test installs it).
    assert path, "promtool not found: run scripts/bootstrap.sh test (Debian package prometheus)"
    return path


@pytest.fixture(scope="session")
def amtool() -> str:
    path = shutil.which("amtool")
    assert path, "amtool not found: run scripts/bootstrap.sh test (Debian package prometheus-alertmanager)"
    return path


@pytest.fixture(scope="session")
def dashboard_queries() -> list[str]:
    return [q for b in BOARDS for q in b.queries()]


@pytest.fixture(scope="session")
def rule_exprs() -> list[str]:
    return [a.expr for a in ALL_ALERTS] + [r.expr for g in GROUPS for r in g.recordings]


@pytest.fixture(scope="session")
def recorded_names() -> set[str]:
    return {r.record for g in GROUPS for r in g.recordings}


@pytest.fixture(scope="session")
def generated() -> dict[str, str]:
    """Every generated file, computed once per session."""
    from dashboards.generate import generate_all

    return generate_all()
