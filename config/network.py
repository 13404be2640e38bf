"""The platform's network matrix (config/network.yaml): read, validate, and answer "may this reach that?".

Both engines use this module: the Ansible common role runs it as a script on the controller before it writes a host
firewall (`python config/network.py`, exit 1 with the offending entry), and Python code (the lab's attacker tests,
Pulumi's NetworkPolicies) imports it. It needs only the standard library and PyYAML, and imports nothing of Ansible
or Pulumi.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MATRIX_FILE = HERE / "network.yaml"
PORTS_FILE = HERE / "ports.yaml"

EVERY_HOST = "all"
"""The role every host has (a destination or a source)."""
PUBLIC = "public"
"""Anyone, the internet included: a source only."""
OPERATORS = "operators"
"""The operators' networks and the Ansible controller: a source only."""
SOURCE_ONLY = frozenset({PUBLIC, OPERATORS})


class MatrixError(ValueError):
    """The matrix is invalid; the message names the entry and what is wrong with it."""


@dataclass(frozen=True)
class Flow:
    """One allowed flow: the roles in `sources` may connect to `port` of every host with role `to`."""

    to: str
    """Destination role."""
    port: str
    """Port name in config/ports.yaml."""
    sources: tuple[str, ...]
    """Roles allowed to connect."""
    why: str
    """What needs this flow."""


@dataclass(frozen=True)
class Matrix:
    """The validated matrix."""

    roles: Mapping[str, str]
    """Every role the flows may name, with what it is."""
    flows: tuple[Flow, ...]
    """The allowed flows, in the file's order."""
    ports: Mapping[str, int]
    """The port map the flows were checked against."""

    def sources_of(self, destination_roles: Iterable[str], port: str) -> frozenset[str]:
        """Roles allowed to reach `port` on a host that has `destination_roles` (`all` is implied)."""
        held = {*destination_roles, EVERY_HOST}
        return frozenset(s for f in self.flows if f.to in held and f.port == port for s in f.sources)

    def allows(self, source_roles: Iterable[str], destination_roles: Iterable[str], port: str) -> bool:
        """True if a host with `source_roles` may connect to `port` of a host with `destination_roles`.

        Every source also counts as `public` (anyone may reach what the internet may) and every host as `all`.
        """
        return bool({*source_roles, EVERY_HOST, PUBLIC} & self.sources_of(destination_roles, port))


def validate(data: Any, ports: Mapping[str, int]) -> Matrix:
    """Check the parsed matrix against the port map; raise MatrixError naming the first offending entry."""
    if not isinstance(data, dict) or set(data) != {"roles", "flows"}:
        raise MatrixError("the matrix must be a mapping with exactly the keys `roles` and `flows`")
    roles = data["roles"]
    if not isinstance(roles, dict) or not all(isinstance(v, str) and v for v in roles.values()):
        raise MatrixError("`roles` must map each role name to a non-empty description")
    missing = {EVERY_HOST, *SOURCE_ONLY} - set(roles)
    if missing:
        raise MatrixError(f"`roles` must declare {', '.join(sorted(missing))}")
    if not isinstance(data["flows"], list) or not data["flows"]:
        raise MatrixError("`flows` must be a non-empty list")
    flows: list[Flow] = []
    seen: set[tuple[str, str, str]] = set()
    for index, entry in enumerate(data["flows"], start=1):
        flow = _flow(index, entry, roles, ports)
        for source in flow.sources:
            key = (flow.to, flow.port, source)
            if key in seen:
                raise MatrixError(f"flow {index} repeats {source} -> {flow.to}:{flow.port}")
            seen.add(key)
        flows.append(flow)
    return Matrix(roles=dict(roles), flows=tuple(flows), ports=dict(ports))


def _flow(index: int, entry: Any, roles: Mapping[str, str], ports: Mapping[str, int]) -> Flow:
    where = f"flow {index}"
    if not isinstance(entry, dict) or set(entry) != {"to", "port", "from", "why"}:
        raise MatrixError(f"{where} must have exactly the keys to, port, from and why (got {entry!r})")
    to, port, sources, why = entry["to"], entry["port"], entry["from"], entry["why"]
    if to not in roles or to in SOURCE_ONLY:
        raise MatrixError(f"{where}: destination {to!r} is not a role hosts can have ({', '.join(roles)})")
    if port not in ports:
        raise MatrixError(f"{where}: port {port!r} is not in config/ports.yaml")
    if not isinstance(sources, list) or not sources:
        raise MatrixError(f"{where}: `from` must be a non-empty list of roles")
    unknown = [s for s in sources if s not in roles]
    if unknown:
        raise MatrixError(f"{where}: unknown source role(s) {', '.join(map(str, unknown))}")
    if not isinstance(why, str) or not why.strip():
        raise MatrixError(f"{where}: `why` must say what needs {to}:{port}")
    return Flow(to=to, port=port, sources=tuple(sources), why=why.strip())


def load(matrix_file: Path = MATRIX_FILE, ports_file: Path = PORTS_FILE) -> Matrix:
    """Read and validate the matrix and the port map."""
    ports = yaml.safe_load(ports_file.read_text())
    if not isinstance(ports, dict) or not all(isinstance(v, int) for v in ports.values()):
        raise MatrixError(f"{ports_file} must map port names to numbers")
    try:
        data = yaml.safe_load(matrix_file.read_text())
    except yaml.YAMLError as exc:
        raise MatrixError(f"{matrix_file} is not YAML: {exc}") from exc
    return validate(data, ports)


def main(argv: list[str] | None = None) -> int:
    """Validate the matrix files; exit 1 with the error on stderr."""
    parser = argparse.ArgumentParser(description="Validate the platform's network matrix.")
    parser.add_argument("--matrix", type=Path, default=MATRIX_FILE, help="the matrix (config/network.yaml)")
    parser.add_argument("--ports", type=Path, default=PORTS_FILE, help="the port map (config/ports.yaml)")
    args = parser.parse_args(argv)
    try:
        matrix = load(args.matrix, args.ports)
    except (MatrixError, OSError) as exc:
        print(f"network matrix: {exc}", file=sys.stderr)
        return 1
    print(f"network matrix: {len(matrix.flows)} flows, {len(matrix.roles)} roles, every port in {args.ports.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
