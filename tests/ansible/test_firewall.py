"""The common role's host firewall, rendered for the example inventory: each host opens exactly the ports the
network matrix gives its roles, to exactly the source hosts' addresses (never a whole network), and the role refuses
an inventory it cannot build a firewall for."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from config import network
from tests.ansible.roles import OPERATORS, Rendered, example_inventory, render

RULE = re.compile(r"^\s+(?:(ip6?) saddr \{ (?P<sources>[^}]+) \} )?tcp dport (?P<port>\d+) accept$", re.M)
ANY = "any"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    result = render(
        tmp_path_factory.mktemp("firewall"),
        roles=("common",),
        templates={"nftables.conf": "common/templates/nftables.conf.j2"},
        extra_vars={},
        checks=("common/assert.yml",),
    )
    assert result.returncode == 0, result.output[-4000:]
    return result


def accepted(ruleset: str) -> dict[int, set[str]]:
    """Port -> the source addresses it accepts ({"any"} for everyone), from a rendered ruleset."""
    opened: dict[int, set[str]] = defaultdict(set)
    for m in RULE.finditer(ruleset):
        opened[int(m["port"])] |= {s.strip() for s in m["sources"].split(",")} if m["sources"] else {ANY}
    return dict(opened)


def test_the_edge_opens_https_and_http_to_anyone_and_nothing_else(rendered: Rendered) -> None:
    ports = network.load().ports
    assert accepted(rendered.files["edge1"]["nftables.conf"]) == {
        ports["https"]: {ANY},
        ports["http"]: {ANY},
        ports["ssh"]: set(OPERATORS),
        ports["node_exporter"]: {"10.20.0.41"},
    }


def test_an_application_host_opens_mlflow_to_the_api_hosts_only(rendered: Rendered) -> None:
    ports = network.load().ports
    apps, edge, mon = {"10.20.0.21", "10.20.0.22"}, {"10.20.0.31"}, {"10.20.0.41"}
    assert accepted(rendered.files["app1"]["nftables.conf"]) == {
        ports["ssh"]: set(OPERATORS),
        ports["node_exporter"]: mon,
        ports["api"]: edge | mon,
        ports["mlflow"]: apps,
        ports["haproxy_primary"]: apps | set(OPERATORS),
        ports["haproxy_redis"]: apps,
        ports["haproxy_stats"]: mon | set(OPERATORS),
        # Jaeger beside Prometheus receives the API's traces, but app1 is no monitoring host.
    }
    # Ports nobody needs stay closed even though HAProxy binds them: the read-only frontend.
    assert ports["haproxy_replicas"] not in accepted(rendered.files["app1"]["nftables.conf"])


def test_every_host_opens_what_the_matrix_says_to_exactly_the_source_hosts(rendered: Rendered) -> None:
    # The oracle: config/network.py's own reading of the matrix, expanded to the example inventory's addresses.
    matrix, inventory = network.load(), example_inventory()
    address = {name: host["ansible_host"] for name, host in inventory["all"]["hosts"].items()}
    members = {group: set(spec["hosts"]) for group, spec in inventory["all"]["children"].items()}
    members["all"] = set(address)
    for host in address:
        roles = {g for g, hosts in members.items() if host in hosts}
        expected: dict[int, set[str]] = {}
        for name, number in matrix.ports.items():
            sources = matrix.sources_of(roles, name)
            if network.PUBLIC in sources:
                expected[number] = {ANY}
                continue
            allowed = {address[h] for role in sources for h in members.get(role, ())}
            allowed |= set(OPERATORS) if network.OPERATORS in sources else set()
            if allowed:
                expected[number] = allowed
        assert accepted(rendered.files[host]["nftables.conf"]) == expected, host


def test_no_rule_opens_a_whole_platform_network(rendered: Rendered) -> None:
    for host, files in rendered.files.items():
        for sources in accepted(files["nftables.conf"]).values():
            assert all(s == ANY or s in OPERATORS or "/" not in s for s in sources), host


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (Debian's nftables) is not installed")
def test_every_rendered_ruleset_is_valid_nft(rendered: Rendered, tmp_path: Path) -> None:
    for host, files in rendered.files.items():
        path = tmp_path / f"{host}.nft"
        path.write_text(files["nftables.conf"])
        check = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, (host, check.stderr)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("operators", "maestro_operator_networks must list the CIDR networks"),
        ("hostname", "db1: ansible_host must be the host's IP address"),
    ],
)
def test_the_role_refuses_an_inventory_it_cannot_protect(tmp_path: Path, change: str, message: str) -> None:
    inventory = example_inventory()
    extra: dict[str, object] = {}
    if change == "operators":
        extra["maestro_operator_networks"] = []
    else:
        inventory["all"]["hosts"]["db1"]["ansible_host"] = "db1.example.internal"
    result = render(
        tmp_path,
        roles=("common",),
        templates={"nftables.conf": "common/templates/nftables.conf.j2"},
        extra_vars=extra,
        inventory=inventory,
        checks=("common/assert.yml",),
        hosts=("db1",),
    )
    assert result.returncode != 0
    assert message in result.output
    assert result.files == {}
