# The Pulumi program (Pulumi.yaml, __main__.py, components/, stacks/). Its unit tests are unmarked and run in
# `make test-fast`; `make preview` evaluates a stack offline under mocks (no Pulumi CLI, no credentials).
.PHONY: preview preview-all

STACK ?= dev-kind
PULUMI_STACKS := dev-kind dev-aws prod-aws dev-gcp prod-gcp dev-azure prod-azure

preview: bootstrap ## Print a stack's resource tree and counts by type, offline (STACK=<a stacks/Pulumi.<name>.yaml>).
	$(MAESTRO) preview $(STACK)

preview-all: bootstrap ## Evaluate every shipped Pulumi stack offline (fails on any program or config error).
	@for s in $(PULUMI_STACKS); do $(MAESTRO) preview $$s > /dev/null && echo "preview $$s: ok"; done
