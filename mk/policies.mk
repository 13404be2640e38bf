# The CrossGuard policy pack (policies/) and its offline checker (`maestro policy ...`, maestro/offline/policycheck.py).
#   make check                         every shipped stack (stacks/Pulumi.*.yaml), pack started as the Pulumi CLI does
#   make check STACK=prod-aws          one stack
#   make check STACK=x STACK_FILE=f PROGRAM=p   a fixture stack/program (e.g. the deliberately insecure one)
#   JSON=out.json SARIF=out.sarif      also write the findings as JSON / SARIF 2.1.0
#   POLICY_ENV=dev|staging|prod        override the environment taken from the stack name's prefix
#   VIA=inprocess                      call the pack's analyzer servicer in-process instead of over gRPC
#   make check-stacks                  every shipped stack, reports in build/policy/ (part of `make test`)
.PHONY: check check-stacks policy-docs lint-policies policy-info

POLICY := $(MAESTRO) policy

check: bootstrap ## Check stacks against the policy pack offline (STACK=, JSON=, SARIF=); exit 1 on mandatory violations.
	$(POLICY) check $(if $(STACK),--stack $(STACK)) $(if $(STACK_FILE),--stack-file $(STACK_FILE)) \
		$(if $(PROGRAM),--program $(PROGRAM)) $(if $(POLICY_ENV),--env $(POLICY_ENV)) \
		$(if $(VIA),--via $(VIA)) $(if $(JSON),--json $(JSON)) $(if $(SARIF),--sarif $(SARIF))

# The offline check as `make test` runs it: the CLI over every shipped stack (prod stacks judged with every rule
# mandatory), the pack started as the Pulumi CLI starts it, exit 1 on any mandatory violation; the timeout only
# catches a hang. tests/policies/test_stacks.py judges the same stacks inside `make test-stacks` on the evaluations
# tests/components/ already made there, so this is each stack's only other evaluation in `make test`.
CHECK_STACKS_DIR := build/policy

check-stacks: bootstrap ## Policy-check every shipped stack offline (JSON + SARIF in build/policy/); exit 1 on mandatory violations.
	@mkdir -p $(CHECK_STACKS_DIR)
	timeout 600 $(POLICY) check --json $(CHECK_STACKS_DIR)/findings.json --sarif $(CHECK_STACKS_DIR)/findings.sarif

TEST_TARGETS += check-stacks

policy-docs: bootstrap ## Regenerate docs/policies.md and policies/config/<env>.json from the rules.
	$(POLICY) generate

policy-info: bootstrap ## Start the pack as the Pulumi CLI does and list the policies it announces.
	$(POLICY) info

lint-policies: bootstrap ## mypy --strict on the pack; fail if the generated policy docs/config are stale.
	MYPYPATH=policies .venv/bin/mypy --strict policies/maestro_policies
	$(POLICY) generate --check

LINT_TARGETS += lint-policies
