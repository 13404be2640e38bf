"""Maestro's observability as code: one source for dashboards, alert and SLO rules, their tests and runbooks.

- config.py       every tunable (job selectors, thresholds, SLO targets, the runbook URL pattern)
- model.py        the typed shapes: Alert, Condition, Runbook, RecordingRule, RuleGroup
- alerts/         one module per platform part; alerts/__init__.py lists them
- boards/         one module per Grafana dashboard, built with grafana-foundation-sdk
- render/         turns the above into rule files, promtool tests, runbooks, docs and dashboard JSON
- __main__.py     `python -m dashboards [--check]`: write (or check for drift) every generated file
"""
