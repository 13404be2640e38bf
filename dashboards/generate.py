"""Every generated file of dashboards/, runbooks/alerts/ and docs/alerts.md, as {relative path: text}."""

from __future__ import annotations

from dashboards.alerts import GROUPS
from dashboards.boards import BOARDS
from dashboards.render import docs, promtool_tests, rules


def generate_all() -> dict[str, str]:
    """All generated files; the single entry point of `make dashboards` and the drift test."""
    files: dict[str, str] = {}
    files.update(rules.render(GROUPS))
    files.update(promtool_tests.render(GROUPS))
    files.update(docs.render(GROUPS))
    files.update({f"dashboards/generated/{b.uid}.json": b.to_json() for b in BOARDS})
    return files
