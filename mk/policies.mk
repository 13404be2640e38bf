# The CrossGuard policy pack (policies/) and its offline checker (maestro/policycheck.py).
#   make check                         every shipped stack (stacks/Pulumi.*.yaml), pack started as the Pulumi CLI does
#   make check STACK=prod-aws          one stack
#   make check STACK=x STACK_FILE=f PROGRAM=p   a fixture stack/program (e.g. the deliberately insecure one)
#   JSON=out.json SARIF=out.sarif      also write the findings as JSON / SARIF 2.1.0
#   POLICY_ENV=dev|staging|prod        override the environment taken from the stack name's prefix
#   VIA=inprocess                      call the pack's analyzer servicer in-process instead of over gRPC
.PHONY: check policy-docs lint-policies policy-info

POLICYCHECK := $(PY) -m maestro.policycheck

check: bootstrap ## Check stacks against the policy pack offline (STACK=, JSON=, SARIF=); exit 1 on mandatory violations.
	$(POLICYCHECK) check $(if $(STACK),--stack $(STACK)) $(if $(STACK_FILE),--stack-file $(STACK_FILE)) \
		$(if $(PROGRAM),--program $(PROGRAM)) $(if $(POLICY_ENV),--env $(POLICY_ENV)) \
		$(if $(VIA),--via $(VIA)) $(if $(JSON),--json $(JSON)) $(if $(SARIF),--sarif $(SARIF))

policy-docs: bootstrap ## Regenerate docs/policies.md and policies/config/<env>.json from the rules.
	$(POLICYCHECK) generate

policy-info: bootstrap ## Start the pack as the Pulumi CLI does and list the policies it announces.
	$(POLICYCHECK) info

lint-policies: bootstrap ## mypy --strict on the pack; fail if the generated policy docs/config are stale.
	MYPYPATH=policies .venv/bin/mypy --strict policies/maestro_policies
	$(POLICYCHECK) generate --check

LINT_TARGETS += lint-policies
