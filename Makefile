# Maestro: the two commands a newcomer needs are `make lab` and `make test`; both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
UV := .tools/bin/uv
PY := .venv/bin/python
PYTEST := .venv/bin/pytest
# The two programs the targets call: the operator CLI and the benchmarks.
MAESTRO := .venv/bin/maestro
BENCH := $(PY) -m bench

# Each part of the platform adds its own targets in mk/<part>.mk and registers them here:
#   TEST_TARGETS  run by `make test` after lint, the fast tests and the server tests
#   LAB_TEST_TARGETS  run by `make test` last (they boot the lab)
#   LINT_TARGETS  run by `make lint` after ruff and mypy
#   BENCH_TARGETS run by `make bench`
TEST_TARGETS :=
LAB_TEST_TARGETS :=
LINT_TARGETS :=
BENCH_TARGETS :=
include $(sort $(wildcard mk/*.mk))

.PHONY: help bootstrap bootstrap-test bootstrap-lab test test-fast test-stacks test-servers lint lint-python bench

help: ## Show the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

bootstrap: ## Install uv and the locked Python environment (plus Debian base packages).
	@scripts/bootstrap.sh

bootstrap-test: ## Also install the servers the test suite starts (PostgreSQL, Redis, Prometheus, ...).
	@scripts/bootstrap.sh test

bootstrap-lab: ## Also install what the systemd-nspawn lab needs.
	@scripts/bootstrap.sh test lab

test: bootstrap-lab ## Run everything: lint, unit tests, server tests and every part's suite.
	@$(MAKE) --no-print-directory lint test-fast test-stacks test-servers $(TEST_TARGETS) $(LAB_TEST_TARGETS)

# The dashboards' unit tests run promtool and amtool, which come with the `test` group's Debian packages.
test-fast: bootstrap-test ## Unit tests only: no servers, no whole-stack evaluations.
	$(PYTEST) -q -m "not servers and not lab and not stacks" -p no:cacheprovider tests

test-stacks: bootstrap ## The Pulumi program evaluated under mocks for every shipped stack, and the policy pack over it.
	$(PYTEST) -q -m "stacks and not servers and not lab" -p no:cacheprovider tests

test-servers: bootstrap-test ## Tests against real PostgreSQL, Redis and MLflow servers that the fixtures start.
	$(PYTEST) -q -m "servers" -p no:cacheprovider tests

lint: bootstrap lint-python $(LINT_TARGETS) ## ruff, mypy and every part's linters.

lint-python:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy app/maestro_api components maestro bench tests/dr_loopback.py

bench: bootstrap-test $(BENCH_TARGETS) ## Run the benchmarks and write docs/benchmarks/.
