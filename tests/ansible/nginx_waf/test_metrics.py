"""The WAF log tailer against a real nginx + ModSecurity + CRS running the role's rendered files.

Each test runs the command of the rendered maestro-waf-metrics.service (what systemd runs on the host) before and
after its traffic, and checks the exact change of the counters in the file it writes, parsed by prometheus_client.
The edge here is this module's own, so no other test's requests are counted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ansible.nginx_waf.corpus import CLIENT_HEADERS, payloads
from tests.ansible.nginx_waf.edge import Edge, missing_prerequisites, running_edge
from tests.ansible.nginx_waf.tailer import Parsed, counts, run_unit_command, samples, unit_command, value

pytestmark = pytest.mark.servers


@contextlib.contextmanager
def _start(upstream_port: int, **overrides: object) -> Iterator[Edge]:
    missing = missing_prerequisites()
    if missing:
        pytest.fail(f"the WAF tests need {', '.join(missing)}: run `make bootstrap-test`")
    with running_edge(upstream_port, **overrides) as running:
        running.metrics_state_dir.mkdir()  # the role creates it on a host (nginx_waf_manage_service)
        yield running


@pytest.fixture(scope="module")
def metrics_edge(waf_upstream: int) -> Iterator[Edge]:
    with _start(waf_upstream) as edge:
        yield edge


def _run(edge: Edge) -> Parsed:
    run_unit_command(edge.metrics_unit)
    output = edge.metrics_state_dir / "maestro_waf.prom"
    assert oct(output.stat().st_mode & 0o777) == "0o644"
    return samples(output.read_text(encoding="utf-8"))


def _delta(before: Parsed, after: Parsed) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(counts(after), counts(before), strict=True))


def _traffic(edge: Edge, legitimate: int, attacks: int = 0, *, expect: int = 403) -> None:
    """`legitimate` plain reads (200), then `attacks` requests with an XSS or SQLi payload (`expect`: refused)."""
    for i in range(legitimate):
        status, _, _ = edge.request("GET", f"/v1/models?page={i}", headers=dict(CLIENT_HEADERS))
        assert status == 200
    chosen = payloads("xss")[:attacks] if attacks <= 20 else [*payloads("xss"), *payloads("sqli")][:attacks]
    assert len(chosen) == attacks
    for payload in chosen:
        query = urllib.parse.urlencode({"q": payload}, quote_via=urllib.parse.quote)
        status, _, _ = edge.request("GET", f"/v1/models?{query}", headers=dict(CLIENT_HEADERS))
        assert status == expect, payload


def _api_refusals(edge: Edge, k: int) -> None:
    """The API's own 403s (RBAC) and a 500: in the audit log as relevant statuses, never counted as blocked."""
    for _ in range(k):
        status, _, _ = edge.request("GET", "/v1/tenants/other", headers={**CLIENT_HEADERS, "X-Echo-Status": "403"})
        assert status == 403
    status, _, _ = edge.request("GET", "/v1/models", headers={**CLIENT_HEADERS, "X-Echo-Status": "500"})
    assert status == 500


def _reopen_nginx_logs(edge: Edge, path: Path) -> None:
    """What Debian's nginx logrotate policy does after renaming the logs (invoke-rc.d nginx rotate = USR1)."""
    assert edge.process is not None
    os.kill(edge.process.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, f"nginx did not reopen {path}"
        time.sleep(0.05)


def _copytruncate(path: Path) -> None:
    shutil.copyfile(path, path.with_name(path.name + ".1"))
    with path.open("r+b") as f:
        f.truncate(0)


def test_the_unit_runs_the_installed_tailer_on_the_files_nginx_writes(metrics_edge: Edge) -> None:
    argv = unit_command(metrics_edge.metrics_unit)
    assert argv[0] == str(metrics_edge.root / "bin" / "maestro-waf-metrics")
    assert os.access(argv[0], os.X_OK)
    assert argv[argv.index("--access-log") + 1] == str(metrics_edge.metrics_access_log)
    assert argv[argv.index("--audit-log") + 1] == str(metrics_edge.audit_log)
    site = (metrics_edge.config_dir / "maestro-waf" / "site.conf").read_text(encoding="utf-8")
    assert f"access_log {metrics_edge.metrics_access_log} maestro_waf_metrics;" in site
    unit = metrics_edge.metrics_unit.read_text(encoding="utf-8")
    assert "User=maestro-waf-metrics" in unit
    assert "SupplementaryGroups=adm" in unit
    timer = metrics_edge.metrics_unit.with_suffix(".timer").read_text(encoding="utf-8")
    assert "OnUnitActiveSec=60s" in timer


def test_systemd_accepts_the_rendered_units(metrics_edge: Edge) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    units = [metrics_edge.metrics_unit, metrics_edge.metrics_unit.with_suffix(".timer")]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "maestro-waf-metrics" not in result.stderr, result.stderr  # warnings about our units


def test_exact_counts_of_requests_and_blocks(metrics_edge: Edge) -> None:
    before = _run(metrics_edge)
    _traffic(metrics_edge, 12, 5)
    _api_refusals(metrics_edge, 3)
    after = _run(metrics_edge)
    assert _delta(before, after) == (12 + 5 + 3 + 1, 5, 0, 0)
    assert value(after, "maestro_waf_rule_engine_enabled") == 1
    assert value(after, "maestro_waf_metrics_last_update_timestamp_seconds") >= value(
        before, "maestro_waf_metrics_last_update_timestamp_seconds"
    )
    assert _delta(after, _run(metrics_edge)) == (0, 0, 0, 0)  # nothing new, nothing counted


def test_uninspectable_requests_count_as_blocked(metrics_edge: Edge) -> None:
    before = _run(metrics_edge)
    json_headers = {**CLIENT_HEADERS, "Content-Type": "application/json"}
    assert metrics_edge.request("POST", "/v1/models", body=b'{"name": ', headers=json_headers)[0] == 400
    assert metrics_edge.request("POST", "/v1/models", body=b'{"a": 1}', headers=dict(CLIENT_HEADERS))[0] == 415
    assert _delta(before, _run(metrics_edge)) == (2, 2, 0, 0)


def test_rename_rotation_with_reopen_stays_exact(metrics_edge: Edge) -> None:
    """Debian's nginx policy for *.log: rename, create, USR1. Requests between rename and reopen land in .1."""
    before = _run(metrics_edge)
    _traffic(metrics_edge, 4, 2)
    middle = _run(metrics_edge)
    assert _delta(before, middle) == (6, 2, 0, 0)

    _traffic(metrics_edge, 3)  # after the last run, before the rotation
    log = metrics_edge.metrics_access_log
    log.rename(log.with_name(log.name + ".1"))
    _traffic(metrics_edge, 2)  # nginx still writes to the renamed file
    _reopen_nginx_logs(metrics_edge, log)
    _traffic(metrics_edge, 1, 1)
    after = _run(metrics_edge)
    assert _delta(middle, after) == (3 + 2 + 1 + 1, 1, 0, 0)
    assert counts(after)[:2] >= counts(middle)[:2]


def test_copytruncate_rotation_stays_exact(metrics_edge: Edge) -> None:
    """The audit log's own policy (libmodsecurity keeps it open) and the same done to the access log."""
    before = _run(metrics_edge)
    _traffic(metrics_edge, 3, 2)
    _copytruncate(metrics_edge.metrics_access_log)
    _copytruncate(metrics_edge.audit_log)
    _traffic(metrics_edge, 2, 3)
    middle = _run(metrics_edge)
    assert _delta(before, middle) == (10, 5, 0, 0)
    assert metrics_edge.audit_log.stat().st_size > 0  # ModSecurity kept writing into the truncated file

    _traffic(metrics_edge, 1, 1)
    assert _delta(middle, _run(metrics_edge)) == (2, 1, 0, 0)


def test_garbled_lines_are_skipped_and_counted(metrics_edge: Edge) -> None:
    before = _run(metrics_edge)
    _traffic(metrics_edge, 2)
    with metrics_edge.metrics_access_log.open("ab") as f:
        f.write(b"\x00garbled by a disk error\n")
    with metrics_edge.audit_log.open("ab") as f:
        f.write(b'{"transaction": {"client_ip": "127.0.0.1", "unfinished\n')
    _traffic(metrics_edge, 1, 1)
    assert _delta(before, _run(metrics_edge)) == (4, 1, 1, 1)


def test_a_restart_continues_from_the_state(metrics_edge: Edge) -> None:
    before = _run(metrics_edge)
    _traffic(metrics_edge, 2, 1)
    (metrics_edge.metrics_state_dir / "maestro_waf.prom").unlink()  # nothing survives but the state file
    after = _run(metrics_edge)
    assert _delta(before, after) == (3, 1, 0, 0)


def test_detection_mode_reports_the_engine_off_and_blocks_nothing(waf_upstream: int) -> None:
    with _start(waf_upstream, nginx_waf_mode="detection") as edge:
        before = _run(edge)
        assert value(before, "maestro_waf_rule_engine_enabled") == 0
        _traffic(edge, 2, 2, expect=200)  # scored and logged, not refused
        after = _run(edge)
        assert _delta(before, after) == (4, 0, 0, 0)
        assert value(after, "maestro_waf_rule_engine_enabled") == 0
