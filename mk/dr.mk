# Disaster recovery: the operator CLI (maestro backup|backups|restore|drill), its playbooks, the loopback
# point-in-time drill (tests/maestro/dr/, `servers` marker: run by `make test-servers`) and the DR benchmarks.
#   make bench-dr                             pgbench scale 70 (~1 GB), 150 s of writes before the loss
#   make bench-dr BENCH_DR_ARGS="--scale 10"  a quicker, smaller run
.PHONY: bench-dr

BENCH_DR_ARGS ?=

bench-dr: bootstrap-test ## DR benchmark on loopback: restore time of a ~1 GB pgbench database from S3, RPO; writes docs/benchmarks/dr.{md,json}.
	timeout 5400 $(BENCH) dr $(BENCH_DR_ARGS)

BENCH_TARGETS += bench-dr

# The lab drill as a benchmark (needs root and the lab: `make lab` first): RTO from `maestro restore` to the API's
# /readyz, and RPO on whole-cluster loss, with a pgbench database of about 1 GB. It measures the release of the lab
# that is up (`make lab LAB_RELEASE=bookworm` for Debian 12) and keeps the other release's last figures beside it.
#   make bench-lab-dr BENCH_LAB_DR_ARGS="--scale 70 --writes-seconds 90 --runs 3"   (the default; medians of 3)
#   .venv/bin/python -m bench lab-dr --rewrite     lab-dr.md again from lab-dr.json (no lab, no root)
.PHONY: bench-lab-dr
BENCH_LAB_DR_ARGS ?= --scale 70 --writes-seconds 90 --runs 3
bench-lab-dr: bootstrap-lab ## Lab restore drill with ~1 GB: RTO to the API serving, RPO; writes docs/benchmarks/lab-dr.{md,json}.
	timeout 3600 $(BENCH) lab-dr $(BENCH_LAB_DR_ARGS)
