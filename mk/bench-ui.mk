# The web UI benchmark: navigation to the experiments table in headless Chromium, through the edge (nginx +
# ModSecurity + CRS) to Maestro and straight from MLflow, cold and warm cache, on loopback or in the lab; writes
# docs/benchmarks/ui.{md,json} (one section per place, the other place's kept).
#   make bench-ui                           7 navigations per case
#   make bench-ui BENCH_UI_ARGS="--runs 3"  a quick look
#   make bench-ui BENCH_UI_ARGS="--lab"     in the running lab (`make lab`): edge1 -> app1 vs MLflow on app1
.PHONY: bench-ui

BENCH_UI_ARGS ?=

bench-ui: bootstrap-test ## Web UI: navigation to the experiments table, through the edge vs MLflow direct.
	timeout 1200 $(BENCH) ui $(BENCH_UI_ARGS)

BENCH_TARGETS += bench-ui
