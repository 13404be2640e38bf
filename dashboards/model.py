"""Typed shapes for rules. Alert definitions carry their runbook and the series their promtool test feeds, so one
edit changes the rule, its test, its runbook page and the alerts doc together."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["critical", "warning", "info", "none"]


@dataclass(frozen=True)
class Runbook:
    """What an operator reads when paged."""

    meaning: str
    """What is wrong and what it breaks for users, in a few sentences."""
    confirm: tuple[str, ...]
    """Steps (commands or queries) that confirm the alert is real."""
    fix: tuple[str, ...]
    """Steps that fix the usual causes."""
    verify: tuple[str, ...]
    """Steps that show the fix worked."""


@dataclass(frozen=True)
class Condition:
    """When an alert fires: its expression, and the input series under which the expression holds.

    The promtool test generated from it asserts no alert at `onset + for - 1m` and exactly one alert, with exactly
    these labels and the alert's description as it renders for them (`Alert.fired`), at `onset + for`.
    """

    expr: str
    """PromQL; true (non-empty) while the condition holds."""
    series: dict[str, str]
    """Series selector -> promtool expanding notation, sampled every minute from t=0."""
    labels: dict[str, str]
    """Every label the firing alert carries except alertname and severity."""
    onset: str = "0m"
    """The first evaluation time (minutes, e.g. "1m") at which the expression returns the alert's series."""


@dataclass(frozen=True)
class Alert:
    """One alerting rule. The alert modules write these as rows of a table, positionally in field order."""

    name: str
    """PascalCase alert name; also the runbook file name."""
    when: Condition
    """The expression and its promtool test series (dashboards/alerts/shapes.py builds the common ones)."""
    for_: str
    """How long the condition must hold before the alert fires (Prometheus duration)."""
    severity: Severity
    """critical pages the on-call, warning opens a ticket, info is for dashboards, none is the dead man's switch."""
    summary: str
    """One sentence, no templating (it groups well in notifications)."""
    description: str
    """Templated with labels and the value; says which instance and how bad."""
    runbook: Runbook
    """The runbook page, rendered into runbooks/alerts/<name>.md."""
    value: str = ""
    """How Prometheus renders the description's `{{ $value ... }}` for the condition's series ("95%", "4m 0s");
    empty exactly when the description does not show the value."""

    def __post_init__(self) -> None:
        shows_value = any(not label for label in _TEMPLATE.findall(self.description))
        if shows_value != bool(self.value):
            raise ValueError(f"{self.name}: give value= exactly when the description shows {{{{ $value }}}}")
        if "{{" in _TEMPLATE.sub("", self.description):
            raise ValueError(f"{self.name}: the description uses a template form other than $labels.x and $value")
        missing = {label for label in _TEMPLATE.findall(self.description) if label} - self.when.labels.keys()
        if missing:
            raise ValueError(f"{self.name}: the description uses labels {sorted(missing)} the alert does not carry")

    @property
    def expr(self) -> str:
        return self.when.expr

    @property
    def fired(self) -> str:
        """The description exactly as Prometheus renders it for the condition's series: each `{{ $labels.x }}`
        is the firing alert's label, `{{ $value ... }}` is `value`."""
        return _TEMPLATE.sub(lambda m: self.when.labels[m[1]] if m[1] else self.value, self.description)


_TEMPLATE = re.compile(r"\{\{ \$(?:labels\.(\w+)|value(?: \| \w+)?) \}\}")
"""A label or value reference of an alert's description (the only template forms the descriptions use)."""


@dataclass(frozen=True)
class RecordingRule:
    """One recording rule."""

    record: str
    """level:metric:operations, per the Prometheus naming practice."""
    expr: str
    """PromQL."""
    labels: dict[str, str] = field(default_factory=dict)
    """Static labels added to the recorded series."""


@dataclass(frozen=True)
class RuleGroup:
    """One Prometheus rule group; each group is rendered into its own file dashboards/rules/<file>.yml."""

    name: str
    """Group name, unique across files."""
    file: str
    """Rule file stem; one file per platform part."""
    area: str
    """Human name of the platform part, used in docs."""
    alerts: tuple[Alert, ...] = ()
    """Alerting rules."""
    recordings: tuple[RecordingRule, ...] = ()
    """Recording rules (evaluated before the alerts of the same group)."""
    extra_tests: tuple[dict[str, object], ...] = ()
    """Hand-written promtool test cases (e.g. SLO burn-rate boundaries), appended to the generated ones."""
    interval: str | None = None
    """Evaluation interval of the group; None means Prometheus' global one."""
