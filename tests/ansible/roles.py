"""Render Ansible role templates for a sample inventory, through ansible-playbook itself (tests/ansible/render.yml).

The tests see exactly what a role would write on each host; nothing is installed, started or reloaded. A sample
inventory is the example production inventory's hosts and groups (ansible/inventories/example/hosts.yml). Every
render is for one Debian release (RELEASES), whose variables the maestro role keeps in vars/<release>.yml.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config import network

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "ansible" / "roles"
PLAYBOOK = Path(__file__).resolve().parent / "render.yml"
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
EXAMPLE_INVENTORY = ROOT / "ansible" / "inventories" / "example" / "hosts.yml"
COLLECTIONS = ROOT / "ansible" / "collections"
"""Where the checkout's roles find the maestro.platform collection (its plugins) by name: a link to ansible/."""
OPERATORS = ["10.20.255.0/24"]
RELEASES = ("Debian-12", "Debian-13")
"""The Debian releases the roles support, as the maestro role names their variables files."""
DEFAULT_RELEASE = "Debian-13"


def example_inventory() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_INVENTORY.read_text())
    return data


def platform_vars() -> dict[str, Any]:
    """What group_vars/all gives every role: the port map and the network matrix, read from config/."""
    return {
        "maestro_ports": yaml.safe_load(network.PORTS_FILE.read_text()),
        "maestro_network": yaml.safe_load(network.MATRIX_FILE.read_text()),
        "maestro_operator_networks": OPERATORS,
    }


def var_files(*roles: str, release: str = DEFAULT_RELEASE) -> list[str]:
    """The defaults and vars files of `roles`, in the order a play would layer them, then the release's variables
    (the maestro role's tasks load them with include_vars, above every role's defaults and vars)."""
    files = [ROLES / role / kind / "main.yml" for role in roles for kind in ("defaults", "vars")]
    return [str(f) for f in files if f.exists()] + [str(ROLES / "maestro" / "vars" / f"{release}.yml")]


@dataclass
class Rendered:
    """The outcome of one render: per host, the rendered files by name; or the failure's output."""

    returncode: int
    output: str
    files: dict[str, dict[str, str]]


def render(
    tmp: Path,
    *,
    roles: tuple[str, ...],
    templates: dict[str, str | tuple[str, tuple[str, ...]]],
    extra_vars: dict[str, Any],
    inventory: dict[str, Any] | None = None,
    checks: tuple[str, ...] = (),
    hosts: tuple[str, ...] = (),
    release: str = DEFAULT_RELEASE,
) -> Rendered:
    """Render `templates` ({output name: role/templates path, or (path, hosts)}) for every host of `inventory` (the
    example one), or only for the hosts a template names.

    `roles` name whose defaults and vars are loaded ("maestro" always comes first); `checks` are role task files run
    before (e.g. "common/assert.yml"); `extra_vars` override everything, as `-e` does; `hosts` limits the run to those
    hosts (the others stay in the inventory, so groups are complete); `release` is the hosts' Debian release.
    """
    inv = tmp / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory or example_inventory()))
    out = tmp / "rendered"
    variables = {
        **platform_vars(),
        "maestro_release": release,
        **extra_vars,
        "render_dir": str(out),
        "render_checks": [dict(zip(("role", "tasks"), check.split("/", 1), strict=True)) for check in checks],
        "render_var_files": var_files("maestro", *roles, release=release),
        "render_templates": [
            {"dest": dest, "src": str(ROLES / src), "hosts": []}
            if isinstance(src, str)
            else {"dest": dest, "src": str(ROLES / src[0]), "hosts": list(src[1])}
            for dest, src in templates.items()
        ],
    }
    vars_file = tmp / "vars.json"
    vars_file.write_text(json.dumps(variables))
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ROLES),
        # The roles call the collection's plugins by their full names (maestro.platform.*).
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": "10",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inv), str(PLAYBOOK), "-e", f"@{vars_file}"]
        + (["--limit", ",".join(hosts)] if hosts else []),
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    files = {
        host.name: {f.name: f.read_text() for f in sorted(host.iterdir())}
        for host in (sorted(out.iterdir()) if out.exists() else [])
    }
    return Rendered(proc.returncode, proc.stdout + proc.stderr, files)
