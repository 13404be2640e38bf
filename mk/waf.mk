# The edge WAF (ansible/roles/nginx_waf): lint of the role, its corpus, edge and metrics-tailer tests and the latency
# benchmark. The tests need Debian's nginx, libnginx-mod-http-modsecurity and modsecurity-crs; the benchmark also wrk.
# The role's tests live in tests/ansible/nginx_waf/; the tailer's unit tests there (test_metrics_tailer.py) need no
# servers and run in `make test-fast`.

WAF_ROLE := ansible/roles/nginx_waf
WAF_TESTS := tests/ansible/nginx_waf

.PHONY: lint-waf test-waf bench-waf

# ansible/.yamllint and ansible/.ansible-lint leave this role to this target, which uses the role's own copies.
lint-waf: ## yamllint and ansible-lint (production profile) on the nginx_waf role.
	.venv/bin/yamllint -s -c $(WAF_ROLE)/.yamllint $(WAF_ROLE) $(WAF_TESTS)/render.yml
	cd $(WAF_ROLE) && $(CURDIR)/.venv/bin/ansible-lint -c .ansible-lint --profile production .
	ANSIBLE_ROLES_PATH=$(CURDIR)/ansible/roles .venv/bin/ansible-lint -c $(WAF_ROLE)/.ansible-lint --profile production $(WAF_TESTS)/render.yml

test-waf: bootstrap-test ## The WAF corpus and edge tests against nginx running the role's rendered files.
	$(PYTEST) -q -m servers -p no:cacheprovider $(WAF_TESTS)

bench-waf: bootstrap-test ## Latency added by the WAF (P50/P99, ModSecurity on vs off); writes docs/benchmarks/waf.{md,json}.
	$(BENCH) waf

LINT_TARGETS += lint-waf
BENCH_TARGETS += bench-waf
