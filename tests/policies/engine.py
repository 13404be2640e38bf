"""Run fixtures through the pack the way the engine does (in-process analyzer servicer), for the tests."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from maestro.offline import policycheck
from maestro.offline.mockrun import RecordedResource

from .cases import R

NO_EXCEPTIONS = Path(__file__).with_name("no-such-exceptions-file.yaml")
"""Unit tests judge the rules alone: the shipped exceptions file must not change their outcome."""


def recorded(resources: list[R]) -> list[RecordedResource]:
    return [RecordedResource(r.urn, r.type, r.name, r.props) for r in resources]


def findings(
    resources: list[R],
    env: str = "prod",
    *,
    exceptions: Path | None = None,
    today: _dt.date | None = None,
) -> list[policycheck.Finding]:
    analyzer = policycheck.inprocess_analyzer(exceptions or NO_EXCEPTIONS, today)
    return policycheck.run_pack(analyzer, "fixture", recorded(resources), env)
