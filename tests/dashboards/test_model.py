"""An alert's expected description is its own description rendered for its condition: the labels the firing alert
carries, and the value it states."""

from __future__ import annotations

import pytest

from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import state
from dashboards.model import Alert

REDIS = Target("redis", "redis1:9121", "redis1")
DOWN = state(REDIS, "redis_up", "== 0")
RUNBOOK = runbook("m", ["c"], ["f"], ["v"])


def _alert(description: str, value: str = "") -> Alert:
    return Alert("RedisX", DOWN, "1m", "warning", "Redis is x.", description, RUNBOOK, value)


def test_fired_is_the_description_with_the_alerts_labels_and_value() -> None:
    labels_only = _alert("Redis {{ $labels.instance }} on {{ $labels.instance_name }} is down.")
    assert labels_only.fired == "Redis redis1:9121 on redis1 is down."
    with_value = _alert("Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of maxmemory.", "95%")
    assert with_value.fired == "Redis redis1:9121 uses 95% of maxmemory."
    assert _alert("{{ $value }} members of {{ $labels.job }}.", "2").fired == "2 members of redis."


def test_value_is_given_exactly_when_the_description_shows_it() -> None:
    with pytest.raises(ValueError, match="RedisX: give value= exactly when"):
        _alert("Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }}.")
    with pytest.raises(ValueError, match="RedisX: give value= exactly when"):
        _alert("Redis {{ $labels.instance }} is down.", "1")


def test_a_label_the_alert_does_not_carry_or_another_template_form_is_refused() -> None:
    with pytest.raises(ValueError, match=r"labels \['scope'\] the alert does not carry"):
        _alert("Patroni cluster {{ $labels.scope }} is down.")
    with pytest.raises(ValueError, match="template form other than"):
        _alert("Redis {{ $labels.instance }} is {{ if $value }}down{{ end }}.")
