"""A real Prometheus (Debian's, on loopback) loads every rule file without error and its rules API lists every
alert and recording rule: the same check the lab does against its monitoring host."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from dashboards.alerts import GROUPS
from maestro.paths import ROOT

pytestmark = pytest.mark.servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: run scripts/bootstrap.sh test"
    work = tmp_path_factory.mktemp("prometheus")
    rule_files = sorted(str(p) for p in (ROOT / "dashboards/rules").glob("*.yml"))
    config = {"global": {"evaluation_interval": "1m"}, "rule_files": rule_files}
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(work / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (work / "prometheus.log").read_text()
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "prometheus did not become ready in 60 s"
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_prometheus_lists_every_alert_and_recording_rule(prometheus_url: str) -> None:
    groups = _get(f"{prometheus_url}/api/v1/rules")["data"]["groups"]
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    records = {r["name"] for g in groups for r in g["rules"] if r["type"] == "recording"}
    assert alerts == {a.name for g in GROUPS for a in g.alerts}
    assert records == {r.record for g in GROUPS for r in g.recordings}
    config_ok = _get(f"{prometheus_url}/api/v1/status/runtimeinfo")["data"]["reloadConfigSuccess"]
    assert config_ok is True
