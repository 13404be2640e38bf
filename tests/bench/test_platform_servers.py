"""bench.servers.platform starts what the benchmarks need and leaves nothing behind, also when the body fails."""

from __future__ import annotations

import socket
import subprocess

import pytest
from maestro_api.core.security import parse_api_key

from bench.servers import platform, psql
from maestro.lab.system import process_alive

pytestmark = pytest.mark.servers

# No MLflow and no API: the cheap part of the platform (the benchmarks' quick modes cover the rest).
NO_MLFLOW = {"MAESTRO_MLFLOW_URL": "http://127.0.0.1:9"}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_platform_bootstraps_the_bench_tenant_and_stops_everything() -> None:
    with platform(prefix="maestro-test-platform-", extra_env=NO_MLFLOW) as p:
        assert p.mlflow is None and p.api_proc is None and p.api_url is None
        assert psql(p.pg, "SELECT name FROM tenants", db="maestro") == "bench"
        assert psql(p.pg, "SELECT id FROM tenants", db="maestro") == str(p.tenant_id)
        prefix = parse_api_key(p.key)
        assert prefix is not None
        assert psql(p.pg, f"SELECT count(*) FROM api_keys WHERE prefix = '{prefix}'", db="maestro") == "1"
        assert "MAESTRO_ARTIFACT_ROOT" not in p.settings_env
        assert p.settings_env["MAESTRO_MLFLOW_URL"] == NO_MLFLOW["MAESTRO_MLFLOW_URL"]
        pong = subprocess.run(["redis-cli", "-p", str(p.redis_port), "ping"], capture_output=True, text=True)
        assert pong.stdout.strip() == "PONG"
        base, pg_port, redis_port, redis_pid = p.base, p.pg.port, p.redis_port, p.redis_pid
        assert base.is_dir() and _listening(pg_port) and process_alive(redis_pid)
    assert not base.exists()
    assert not _listening(pg_port) and not _listening(redis_port) and not process_alive(redis_pid)


def test_platform_stops_everything_when_the_benchmark_fails() -> None:
    with (
        pytest.raises(RuntimeError, match="benchmark failed"),
        platform(prefix="maestro-test-platform-", extra_env=NO_MLFLOW) as p,
    ):
        base, pg_port, redis_pid = p.base, p.pg.port, p.redis_pid
        raise RuntimeError("benchmark failed")
    assert not base.exists()
    assert not _listening(pg_port) and not process_alive(redis_pid)
