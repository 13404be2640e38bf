# The API benchmark: cached/uncached registry reads through the API, the same read straight from MLflow, and an
# authenticated write. Starts PostgreSQL, Redis, MLflow and the API on loopback, runs wrk (closed loop) and
# bench/api/openloop.py (fixed arrival rate), stops everything, and writes docs/benchmarks/api.{md,json}.
#   make bench-api                       3 interleaved repeats, medians
#   make bench-api BENCH_API_ARGS="--repeats 1 --duration 5"   a quick look
#   make bench-api BENCH_API_ARGS="--baseline <git-rev> --repeats 6"   case (a) for <git-rev> and for the working
#                                        tree in one run, alternately (build/bench/api-baseline.{md,json})
#   make bench-api-profile               a cached read driven in-process into the app, CPU per request + cProfile
#                                        (a tuning aid, not part of BENCH_TARGETS)
.PHONY: bench-api bench-api-profile

BENCH_API_ARGS ?=

bench-api: bootstrap-test ## API benchmark: (a) cached read, (b) MLflow direct, (c) uncached read, (d) write.
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	timeout 1800 $(BENCH) api run $(BENCH_API_ARGS)

bench-api-profile: bootstrap-test ## Profile the API's cached read in-process (real PostgreSQL and Redis).
	timeout 900 $(BENCH) api profile --profile

BENCH_TARGETS += bench-api
