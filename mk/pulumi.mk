# The Pulumi program (Pulumi.yaml, __main__.py, components/, stacks/). Its tests are in tests/components/: those that
# evaluate stacks under mocks are marked `stacks` and run in `make test-stacks`; the config and import-layering tests
# run in `make test-fast`. `make preview` evaluates a stack offline under mocks (no Pulumi CLI, no credentials). The
# golden record (tests/components/golden/<stack>.json: every resource's URN, parent, dependencies, options and
# inputs) guards refactorings: tests/components/test_golden.py fails on any difference; `make golden` rewrites it on
# purpose (review the diff: a changed URN or parent is a replacement on `pulumi up`).
.PHONY: preview preview-all golden

STACK ?= dev-kind
PULUMI_STACKS := dev-kind dev-aws prod-aws dev-gcp prod-gcp dev-azure prod-azure

preview: bootstrap ## Print a stack's resource tree and counts by type, offline (STACK=<a stacks/Pulumi.<name>.yaml>).
	$(MAESTRO) preview $(STACK)

preview-all: bootstrap ## Evaluate every shipped Pulumi stack offline (fails on any program or config error).
	@for s in $(PULUMI_STACKS); do $(MAESTRO) preview $$s > /dev/null && echo "preview $$s: ok"; done

golden: bootstrap ## Rewrite the golden record of every shipped stack (tests/components/golden/); review the diff.
	$(PY) -m tests.components.golden --write
