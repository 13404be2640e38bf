# The MLflow client proxy benchmark: proxy overhead vs MLflow direct for log_batch and
# get_registered_model at P50/P99. Starts PostgreSQL, Redis, MLflow and the API on loopback, stops them after.
#   make bench-proxy                                   300 calls per case
#   make bench-proxy BENCH_PROXY_ARGS="--requests 50"  a quick look
.PHONY: bench-proxy

BENCH_PROXY_ARGS ?=

bench-proxy: bootstrap-test ## MLflow proxy overhead vs MLflow direct (log_batch, get_registered_model).
	timeout 1800 $(BENCH) proxy $(BENCH_PROXY_ARGS)

BENCH_TARGETS += bench-proxy
