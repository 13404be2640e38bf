"""The reviewed exceptions file (policies/exceptions.yaml).

Schema (YAML):

    exceptions:
      - rule: MAESTRO-K8S-006          # required: the rule id the exception is for
        resource: "dev-kind-*"         # required: a URN (starts with "urn:pulumi:") or a resource-name pattern;
                                       #   shell-style wildcards (*, ?, [..]) allowed in both
        reason: "why this is accepted" # required, non-empty
        owner: "team-or-person"        # required, non-empty: who answers for it
        expires: 2027-01-31            # required ISO date; from this day on the exception no longer applies

An exception suppresses the rule's violations on matching resources until it expires. From its expiry date on,
the violation is reported again (with a note naming the expired exception), and MAESTRO-GOV-001 reports the
expired exception itself, so an expired entry fails a prod check even if nobody touched the resource.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "exceptions.yaml"
_FIELDS = ("rule", "resource", "reason", "owner", "expires")


class ExceptionsFileError(ValueError):
    """The exceptions file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class PolicyException:
    rule: str
    resource: str
    reason: str
    owner: str
    expires: _dt.date

    def matches(self, *, urn: str, name: str) -> bool:
        if self.resource.startswith("urn:pulumi:"):
            return fnmatch.fnmatchcase(urn, self.resource)
        return fnmatch.fnmatchcase(name, self.resource)

    def expired(self, today: _dt.date) -> bool:
        return today >= self.expires


@dataclass(frozen=True)
class Verdict:
    suppressed: bool
    note: str = ""


class ExceptionSet:
    """The parsed exceptions file."""

    def __init__(self, entries: list[PolicyException]) -> None:
        self.entries = entries

    def verdict(self, rule: str, *, urn: str, name: str, today: _dt.date) -> Verdict:
        """Whether a violation of `rule` on this resource is suppressed, or a note about an expired exception."""
        expired = None
        for e in self.entries:
            if e.rule != rule or not e.matches(urn=urn, name=name):
                continue
            if not e.expired(today):
                return Verdict(True)
            expired = e
        if expired is not None:
            return Verdict(
                False, f" (exception for {expired.resource!r} owned by {expired.owner} expired on {expired.expires})"
            )
        return Verdict(False)

    def expired(self, today: _dt.date) -> list[PolicyException]:
        return [e for e in self.entries if e.expired(today)]


def parse(data: Any, source: str = "exceptions") -> ExceptionSet:
    """Validate the loaded YAML document and return the exceptions it lists."""
    if data is None:
        return ExceptionSet([])
    if not isinstance(data, dict) or not isinstance(data.get("exceptions", []), list):
        raise ExceptionsFileError(f"{source}: expected a mapping with an 'exceptions' list")
    entries: list[PolicyException] = []
    for i, raw in enumerate(data.get("exceptions") or []):
        where = f"{source}: exceptions[{i}]"
        if not isinstance(raw, dict):
            raise ExceptionsFileError(f"{where}: expected a mapping")
        unknown = set(raw) - set(_FIELDS)
        if unknown:
            raise ExceptionsFileError(f"{where}: unknown field(s) {sorted(unknown)}")
        for f in _FIELDS:
            if raw.get(f) in (None, ""):
                raise ExceptionsFileError(f"{where}: field {f!r} is required")
        expires = raw["expires"]
        if isinstance(expires, str):
            try:
                expires = _dt.date.fromisoformat(expires)
            except ValueError as exc:
                raise ExceptionsFileError(f"{where}: 'expires' must be an ISO date, got {raw['expires']!r}") from exc
        if not isinstance(expires, _dt.date):
            raise ExceptionsFileError(f"{where}: 'expires' must be an ISO date, got {expires!r}")
        rule = str(raw["rule"])
        if not rule.startswith("MAESTRO-"):
            raise ExceptionsFileError(f"{where}: 'rule' must be a MAESTRO-<AREA>-NNN id, got {rule!r}")
        entries.append(PolicyException(rule, str(raw["resource"]), str(raw["reason"]), str(raw["owner"]), expires))
    return ExceptionSet(entries)


def load(path: Path = DEFAULT_PATH) -> ExceptionSet:
    """Load an exceptions file; a missing file means no exceptions."""
    if not path.is_file():
        return ExceptionSet([])
    return parse(yaml.safe_load(path.read_text()), str(path))
