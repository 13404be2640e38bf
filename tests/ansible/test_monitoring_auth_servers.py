"""Debian's Prometheus and Alertmanager (on loopback) with the monitoring role's web configs, hashed by the role's
maestro_bcrypt filter: nothing answers without the credential, and Prometheus's lifecycle and admin APIs are off."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ansible.roles import ROOT
from tests.servers import free_port

sys.path.insert(0, str(ROOT / "ansible" / "plugins" / "filter"))
from maestro_crypt import maestro_bcrypt

pytestmark = pytest.mark.servers

USER, PASSWORD = "maestro", "monitoring-password-" + "x" * 12


def call(url: str, *, method: str = "GET", password: str | None = None, body: object = None) -> int:
    """The HTTP status of one request, with basic auth when a password is given (0: no connection)."""
    headers = {"Content-Type": "application/json"}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except urllib.error.URLError:
        return 0


@contextlib.contextmanager
def running(binary: str, args: list[str], port: int, work: Path) -> Iterator[str]:
    path = shutil.which(binary)
    assert path, f"{binary} not found: run scripts/bootstrap.sh test"
    web = work / "web.yml"
    web.write_text(f"basic_auth_users:\n  {USER}: {maestro_bcrypt(PASSWORD, f'test:{binary}')}\n")
    log = (work / f"{binary}.log").open("w")
    proc = subprocess.Popen(
        [path, f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={web}", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while call(f"{url}/-/ready", password=PASSWORD) != 200:
            assert proc.poll() is None, (work / f"{binary}.log").read_text()[-2000:]
            assert time.monotonic() < deadline, f"{binary} not ready in 60 s"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("prometheus")
    (work / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    args = [f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}"]
    with running("prometheus", args, free_port(), work) as url:
        yield url


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("alertmanager")
    (work / "alertmanager.yml").write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    args = [
        f"--config.file={work / 'alertmanager.yml'}",
        f"--storage.path={work / 'data'}",
        "--cluster.listen-address=",
    ]
    with running("prometheus-alertmanager", args, free_port(), work) as url:
        yield url


@pytest.mark.parametrize("path", ["/-/ready", "/api/v1/query?query=up", "/api/v1/targets", "/graph", "/metrics"])
@pytest.mark.parametrize("password", [None, "wrong-password", PASSWORD[:-1]])
def test_prometheus_refuses_without_the_credential(prometheus: str, path: str, password: str | None) -> None:
    assert call(f"{prometheus}{path}", password=password) == 401


def test_prometheus_answers_the_credential(prometheus: str) -> None:
    assert call(f"{prometheus}/api/v1/query?query=up", password=PASSWORD) == 200


def test_prometheus_runs_no_lifecycle_or_admin_api(prometheus: str) -> None:
    # Even with the credential: reload and quit are SIGHUP/SIGTERM only, snapshots and deletions do not exist.
    assert call(f"{prometheus}/-/reload", method="POST", password=PASSWORD) == 403
    assert call(f"{prometheus}/-/quit", method="POST", password=PASSWORD) == 403
    snapshot = urllib.request.Request(
        f"{prometheus}/api/v1/admin/tsdb/snapshot",
        method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(snapshot, timeout=5)
    assert "admin APIs disabled" in refused.value.read().decode()
    assert call(f"{prometheus}/api/v1/query?query=up", password=PASSWORD) == 200


def _silence() -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {
        "matchers": [{"name": "alertname", "value": "Everything", "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
        "createdBy": "attacker",
        "comment": "silence every alert",
    }


@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_alertmanager_accepts_no_silence_without_the_credential(alertmanager: str, password: str | None) -> None:
    assert call(f"{alertmanager}/api/v2/silences", method="POST", password=password, body=_silence()) == 401
    assert call(f"{alertmanager}/api/v2/silences", password=password) == 401
    assert call(f"{alertmanager}/api/v2/alerts", method="POST", password=password, body=[]) == 401


def test_alertmanager_answers_the_credential(alertmanager: str) -> None:
    assert call(f"{alertmanager}/api/v2/silences", method="POST", password=PASSWORD, body=_silence()) == 200
    assert call(f"{alertmanager}/api/v2/status", password=PASSWORD) == 200
