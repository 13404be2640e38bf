"""Running the repository's playbooks: the one way the DR commands and the lab call `ansible-playbook`.

The playbook runs from the repository root with its ansible.cfg, and with the ansible-playbook installed beside
this Python (the project's environment), so the operator's own Ansible, if any, plays no part.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maestro.paths import ROOT

ANSIBLE_DIR = ROOT / "ansible"


class PlaybookError(RuntimeError):
    """ansible-playbook exited non-zero; the message names the playbook and its exit status."""

    exit_code = 1


def environment() -> dict[str, str]:
    """The caller's environment plus the repository's ansible.cfg and this Python's bin directory first on PATH."""
    bindir = Path(sys.executable).parent
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def command(
    playbook: str, inventory: Path, extra_vars: Mapping[str, Any] | None = None, tags: Sequence[str] = ()
) -> list[str]:
    """The argument list of `ansible-playbook -i inventory ansible/<playbook>`, extra vars as one JSON document."""
    exe = Path(sys.executable).parent / "ansible-playbook"
    argv = [str(exe if exe.exists() else "ansible-playbook"), "-i", str(inventory), str(ANSIBLE_DIR / playbook)]
    if extra_vars:
        argv += ["-e", json.dumps(dict(extra_vars))]
    if tags:
        argv += ["--tags", ",".join(tags)]
    return argv


def run_playbook(
    playbook: str, inventory: Path, extra_vars: Mapping[str, Any] | None = None, tags: Sequence[str] = ()
) -> None:
    """Run a playbook with its output on the terminal; raise PlaybookError when it fails."""
    argv = command(playbook, inventory, extra_vars, tags)
    proc = subprocess.run(argv, check=False, env=environment(), cwd=ROOT)  # noqa: S603 - argument list built here
    if proc.returncode != 0:
        raise PlaybookError(f"ansible-playbook {playbook} failed ({proc.returncode}); nothing after it ran")
