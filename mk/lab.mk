# The systemd-nspawn lab (`maestro lab ...`, maestro/lab/) and its tests. Needs root.
#   make lab                          Debian 13 (trixie) hosts
#   make lab LAB_RELEASE=bookworm     Debian 12 hosts (the same for test-lab, bench-lab, bench-lab-dr)
# A lab runs one release at a time: `make lab-down` before switching. Images and wheelhouses are cached per release.
.PHONY: lab lab-down lab-status test-lab lint-ansible bench-lab

LAB := $(MAESTRO) lab
LAB_RELEASE ?= trixie
export LAB_RELEASE

# ansible-lint (production profile) and yamllint pass on ansible/ (the nginx_waf role lints in its owner's target).
LINT_TARGETS += lint-ansible

# `make test` runs the lab tests last (they boot the lab from a fresh cache in a clean checkout).
LAB_TEST_TARGETS += test-lab

lab: bootstrap-lab ## Boot the whole platform on local nspawn hosts and print its endpoints (idempotent).
	$(LAB) up

lab-down: ## Stop the lab hosts; remove their overlays, mounts, the bridge and the NAT table.
	@if [ -x $(MAESTRO) ]; then $(LAB) down; else echo "lab-down: no .venv, nothing was started"; fi

lab-status: ## Show which lab hosts (and the S3 endpoint) run.
	$(LAB) status

# test-lab brings the lab up (from the cached image when there is one), runs tests/lab and always takes it down.
test-lab: bootstrap-lab ## Lab tests: testinfra per role, end to end through the WAF, failover under load, idempotence, restore drill.
	rc=0; $(LAB) up || rc=$$?; \
	if [ $$rc -eq 0 ]; then $(PYTEST) -q -m lab -p no:cacheprovider tests/lab || rc=$$?; fi; \
	$(LAB) down || true; exit $$rc

lint-ansible: bootstrap ## ansible-lint (production profile) and yamllint on ansible/.
	cd ansible && ../.venv/bin/ansible-lint --profile production --offline
	cd ansible && ../.venv/bin/yamllint -s .

bench-lab: bootstrap-lab ## Lab benchmarks: cold/warm `make lab`, failover over 5 runs; writes docs/benchmarks/lab.{md,json}.
	$(BENCH) lab
