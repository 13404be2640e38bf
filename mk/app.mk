# The Maestro API service (app/): generated artifacts and a local server.
#   make openapi      regenerate app/openapi.json from the code (tests/app/test_openapi.py fails when it drifts)
#   make rbac-docs    regenerate docs/rbac.md from app/maestro_api/core/rbac.py (tests/app/test_rbac.py checks it)
#   make api-check-generated   fail if either generated file is stale (part of `make lint`)
.PHONY: openapi rbac-docs api-check-generated

MAESTRO_API := .venv/bin/maestro-api

openapi: bootstrap ## Regenerate app/openapi.json from the API code.
	$(MAESTRO_API) openapi

rbac-docs: bootstrap ## Regenerate docs/rbac.md from the RBAC matrix.
	$(MAESTRO_API) rbac-docs

api-check-generated: bootstrap ## Fail when app/openapi.json or docs/rbac.md drift from the code.
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(MAESTRO_API) openapi --output $$tmp/openapi.json 2>/dev/null; \
	$(MAESTRO_API) rbac-docs --output $$tmp/rbac.md 2>/dev/null; \
	diff -q $$tmp/openapi.json app/openapi.json >/dev/null || { echo "app/openapi.json is stale: run make openapi"; exit 1; }; \
	diff -q $$tmp/rbac.md docs/rbac.md >/dev/null || { echo "docs/rbac.md is stale: run make rbac-docs"; exit 1; }

LINT_TARGETS += api-check-generated
