# Observability as code (dashboards/): generation, rule and Alertmanager checks, promtool unit tests.
# promtool and amtool come from Debian's prometheus and prometheus-alertmanager (scripts/bootstrap.sh test).

DASHBOARD_RULES := $(wildcard dashboards/rules/*.yml)
DASHBOARD_TESTS := $(wildcard dashboards/tests/*.yml)

.PHONY: dashboards dashboards-check dashboards-lint dashboards-test

dashboards: bootstrap ## Regenerate dashboards/generated, rules, promtool tests, runbooks/alerts and docs/alerts.md.
	$(PY) -m dashboards

dashboards-check: bootstrap ## Fail if any generated observability file is out of date.
	$(PY) -m dashboards --check

dashboards-lint: bootstrap-test dashboards-check ## promtool check rules, amtool check-config, mypy on dashboards/.
	promtool check rules $(DASHBOARD_RULES)
	amtool check-config dashboards/alertmanager/alertmanager.yml
	.venv/bin/mypy dashboards

dashboards-test: bootstrap-test ## promtool unit tests of every alert and the SLO burn-rate boundaries.
	promtool test rules $(DASHBOARD_TESTS)

LINT_TARGETS += dashboards-lint
TEST_TARGETS += dashboards-test
