"""Run fixtures through the pack the way the engine does (in-process analyzer servicer), for the tests."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maestro.offline import policycheck

from .cases import R


@dataclass(frozen=True)
class Recorded:
    """The shape maestro.mockrun records, for fixtures that are not produced by a program."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str = ""
    provider: str = ""
    custom: bool = True
    outputs: dict[str, Any] = field(default_factory=dict)


NO_EXCEPTIONS = Path(__file__).with_name("no-such-exceptions-file.yaml")
"""Unit tests judge the rules alone: the shipped exceptions file must not change their outcome."""


def recorded(resources: list[R]) -> list[Recorded]:
    return [Recorded(r.urn, r.type, r.name, r.props) for r in resources]


def findings(
    resources: list[R],
    env: str = "prod",
    *,
    exceptions: Path | None = None,
    today: _dt.date | None = None,
) -> list[policycheck.Finding]:
    analyzer = policycheck.inprocess_analyzer(exceptions or NO_EXCEPTIONS, today)
    return policycheck.run_pack(analyzer, "fixture", recorded(resources), env)
