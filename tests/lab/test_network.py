"""The network matrix as an attacker sees it. From every lab host, and from the outer machine (the lab's operator and
Ansible controller), every port of config/ports.yaml on every other host answers exactly as config/network.yaml says:

- the matrix allows it and a server listens there: the connection opens;
- the matrix allows it but nothing listens (Grafana and Jaeger are not deployed in the lab): refused at once, which
  shows the firewall let the packet through;
- anything else: no answer at all (the firewall drops it).

Each source probes all its targets in parallel with one small Python script over SSH, with short timeouts."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from config import network
from maestro.lab.nspawn import ssh
from maestro.lab.topology import HOSTS, host_by_name, platform_ports

pytestmark = pytest.mark.lab

OPEN, REFUSED, DROPPED = "open", "refused", "dropped"
OUTER = "outer machine"

# Connects to every (address, port) at once and prints what each answered; runs on a lab host with its python3.
PROBE = r"""
import errno, json, selectors, socket, sys, time
targets = json.loads(sys.argv[1])
sel, result = selectors.DefaultSelector(), {}
for ip, port in targets:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    code = s.connect_ex((ip, port))
    if code in (0, errno.EINPROGRESS):
        sel.register(s, selectors.EVENT_WRITE, f"{ip}:{port}")
    else:
        result[f"{ip}:{port}"] = "refused" if code == errno.ECONNREFUSED else f"error {code}"
        s.close()
deadline = time.monotonic() + float(sys.argv[2])
while sel.get_map() and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
        err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        result[key.data] = "open" if err == 0 else ("refused" if err == errno.ECONNREFUSED else f"error {err}")
        sel.unregister(key.fileobj)
        key.fileobj.close()
for key in list(sel.get_map().values()):
    result[key.data] = "dropped"
    key.fileobj.close()
print(json.dumps(result))
"""
TIMEOUT_SECONDS = 2.0


def _listening(hosts: dict[str, Any]) -> dict[str, set[int]]:
    """Per host, the TCP ports a server listens on at the host's platform address (or every address)."""
    out: dict[str, set[int]] = {}
    for h in HOSTS:
        ports = set()
        for line in hosts[h.name].check_output("ss -Htln").splitlines():
            address, _, port = line.split()[3].rpartition(":")
            if address.strip("[]") in {h.ip, "0.0.0.0", "*", "::"}:
                ports.add(int(port))
        out[h.name] = ports
    return out


def _probe_from(source: str, targets: list[tuple[str, int]]) -> dict[str, str]:
    """What each target answered a connection from `source` (a lab host over SSH, or this machine)."""
    args = [json.dumps(targets), str(TIMEOUT_SECONDS)]
    if source == OUTER:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    else:
        command = " ".join(shlex.quote(a) for a in ["python3", "-c", PROBE, *args])
        out = ssh(host_by_name(source), command).stdout
    result: dict[str, str] = json.loads(out)
    return result


@pytest.fixture(scope="module")
def observed(hosts: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """(source, destination host, port name) -> what the source saw."""
    ports = platform_ports()
    sources = [h.name for h in HOSTS] + [OUTER]
    plan: dict[str, list[tuple[str, int]]] = {
        s: [(d.ip, number) for d in HOSTS if d.name != s for number in ports.values()] for s in sources
    }
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        results = dict(zip(sources, pool.map(lambda s: _probe_from(s, plan[s]), sources), strict=True))
    by_number = {number: name for name, number in ports.items()}
    return {
        (s, d.name, by_number[number]): results[s][f"{d.ip}:{number}"]
        for s in sources
        for d in HOSTS
        if d.name != s
        for number in ports.values()
    }


def _roles(name: str) -> set[str]:
    return {network.OPERATORS} if name == OUTER else set(host_by_name(name).groups)


def test_every_port_of_every_host_answers_as_the_matrix_says(
    observed: dict[tuple[str, str, str], str], hosts: dict[str, Any]
) -> None:
    matrix, listening, ports = network.load(), _listening(hosts), platform_ports()
    wrong = []
    for (source, dest, port), seen in sorted(observed.items()):
        allowed = matrix.allows(_roles(source), host_by_name(dest).groups, port)
        expected = (OPEN if ports[port] in listening[dest] else REFUSED) if allowed else DROPPED
        if seen != expected:
            wrong.append(f"{source} -> {dest}:{port} ({ports[port]}): {seen}, the matrix says {expected}")
    assert wrong == [], "\n".join(wrong)


def test_the_probe_saw_all_three_answers(observed: dict[tuple[str, str, str], str]) -> None:
    # The comparison above is only as good as the probe: it must have told every kind of answer apart.
    assert {OPEN, REFUSED, DROPPED} <= set(observed.values())
    assert observed[("edge1", "app1", "api")] == OPEN
    assert observed[("edge1", "app1", "mlflow")] == DROPPED
    assert observed[(OUTER, "mon1", "grafana")] == REFUSED  # allowed for operators; Grafana is not deployed here


@pytest.mark.parametrize(
    ("source", "dest", "port"),
    [
        ("edge1", "app1", "mlflow"),
        ("edge1", "db1", "etcd_client"),
        ("edge1", "db1", "postgres"),
        ("edge1", "mon1", "prometheus"),
        ("edge1", "mon1", "alertmanager"),
        ("edge1", "app1", "haproxy_stats"),
        ("edge1", "db1", "ssh"),
        ("app1", "db1", "etcd_client"),
        ("app1", "mon1", "alertmanager"),
        ("mon1", "app1", "mlflow"),
        ("db1", "app1", "mlflow"),
        (OUTER, "app1", "mlflow"),
        (OUTER, "db1", "postgres"),
        (OUTER, "db1", "etcd_client"),
    ],
)
def test_internal_surfaces_are_closed_to_hosts_that_need_none_of_them(
    observed: dict[tuple[str, str, str], str], source: str, dest: str, port: str
) -> None:
    assert observed[(source, dest, port)] == DROPPED


def test_the_identity_provider_answers_the_api_and_the_operators_only(
    observed: dict[tuple[str, str, str], str],
) -> None:
    # The API fetches its keys and trades sign-in codes there; users' browsers (the outer machine) sign in there.
    seen = {source: answer for (source, dest, port), answer in observed.items() if (dest, port) == ("mon1", "idp")}
    assert {source for source, answer in seen.items() if answer == OPEN} == {"app1", OUTER}
    assert {answer for source, answer in seen.items() if source not in {"app1", OUTER}} == {DROPPED}
