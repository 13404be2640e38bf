"""Small helpers that keep alert modules short: series selectors for scenarios and runbook construction."""

from __future__ import annotations

from dashboards.model import Runbook


def sel(metric: str, **labels: str) -> str:
    """A promtool input series selector, labels in a stable order: sel("up", job="x") -> 'up{job="x"}'."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def runbook(meaning: str, *, confirm: list[str], fix: list[str], verify: list[str]) -> Runbook:
    """A Runbook from plain lists (reads better in the alert modules than tuples)."""
    return Runbook(meaning=meaning, confirm=tuple(confirm), fix=tuple(fix), verify=tuple(verify))
