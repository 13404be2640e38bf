"""Fixtures for the lab tests: the running lab (brought up if needed, taken down if we started it) and testinfra
hosts over SSH. Every test here is marked `lab`; `make test-lab` runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maestro.lab.endpoints import ENDPOINTS_FILE
from maestro.lab.nspawn import ssh_ready
from maestro.lab.pki import SSH_KEY, SSH_OPTIONS
from maestro.lab.topology import HOSTS, host_by_name, platform_ports
from maestro.paths import ROOT

pytestmark = pytest.mark.lab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab_endpoints() -> Iterator[dict[str, Any]]:
    """The lab's endpoints; runs `maestro lab up` when the lab is not up, and `down` afterwards if it did."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    path = ENDPOINTS_FILE
    started = False
    if not path.exists() or not all(ssh_ready(h) for h in HOSTS):
        subprocess.run([sys.executable, "-m", "maestro", "lab", "up"], check=True, cwd=ROOT)
        started = True
    try:
        yield json.loads(path.read_text())
    finally:
        if started:
            subprocess.run([sys.executable, "-m", "maestro", "lab", "down"], check=False, cwd=ROOT)


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return platform_ports()


@pytest.fixture(scope="session")
def secrets(lab_endpoints: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = json.loads(Path(lab_endpoints["secrets_file"]).read_text())
    return data


@pytest.fixture(scope="session")
def ca_file(lab_endpoints: dict[str, Any]) -> str:
    return str(lab_endpoints["ca_file"])


def testinfra_host(name: str) -> Any:
    import testinfra

    host = host_by_name(name)
    return testinfra.get_host(
        f"ssh://root@{host.ip}",
        ssh_identity_file=str(SSH_KEY),
        ssh_extra_args=" ".join(
            (*SSH_OPTIONS, "-o ControlMaster=auto -o ControlPersist=120s -o ControlPath=/tmp/maestro-lab-ssh-%C")
        ),
    )


@pytest.fixture(scope="session")
def hosts(lab_endpoints: dict[str, Any]) -> dict[str, Any]:
    """testinfra hosts by name."""
    return {h.name: testinfra_host(h.name) for h in HOSTS}
