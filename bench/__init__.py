"""Maestro's benchmarks: one program, `python -m bench <case>` (bench/__main__.py), called by the `bench-*` targets.

- report.py        what every report shares: docs/benchmarks/, the machine, the `cases` shape (checked by tests)
- servers.py       PostgreSQL, Redis, MLflow and the API on loopback, started and stopped as one
- api/             the API: cached and uncached reads, MLflow direct, writes (`api run`); a profiler (`api profile`)
- mlflow_proxy.py  the MLflow client proxy's overhead over MLflow direct (`proxy`)
- dr.py            restore time and RPO of a pgbench database from S3, on loopback (`dr`)
- waf.py           latency and CPU the WAF adds at the edge (`waf`)
- lab.py           `make lab` cold and warm, failover under load (`lab`; root)
- lab_dr.py        the lab's restore drill with ~1 GB: RTO to the API serving, RPO (`lab-dr`; root, lab up)
"""
