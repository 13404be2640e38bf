# The API benchmark (issue 3): cached/uncached registry reads through the API, the same read straight from MLflow,
# and an authenticated write. Starts PostgreSQL, Redis, MLflow and the API on loopback, runs wrk (closed loop) and
# bench/api/openloop.py (fixed arrival rate), stops everything, and writes docs/benchmarks/api.{md,json}.
#   make bench-api                       3 interleaved repeats, medians (about 10 minutes on 2 cores)
#   make bench-api BENCH_API_ARGS="--repeats 1 --duration 5"   a quick look
.PHONY: bench-api

BENCH_API_ARGS ?=

bench-api: bootstrap-test ## API benchmark: (a) cached read, (b) MLflow direct, (c) uncached read, (d) write.
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	timeout 1800 $(PY) -m bench.api.run $(BENCH_API_ARGS)

BENCH_TARGETS += bench-api
