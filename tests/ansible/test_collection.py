"""The roles as Ansible users consume them: `make collection` builds maestro.platform, `ansible-galaxy collection
install` puts it in a scratch collections path, and a playbook outside the repository uses its roles, plugins and
packed shared files by their full names (the checks and variables a deployment starts with, on this machine)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.roles import ROOT, example_inventory, platform_vars
from tests.ansible.test_admin_configs import PLATFORM, SECRETS

VENV = ROOT / ".venv" / "bin"

PLAYBOOK = """\
- name: Use the maestro.platform collection from a site's own playbook.
  hosts: db1
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Check the platform settings as the common role does (the packed network matrix, validated).
      ansible.builtin.include_role:
        name: maestro.platform.common
        tasks_from: assert.yml

    - name: Check Patroni's settings, with the release's variables and the role's defaults kept for the play.
      ansible.builtin.include_role:
        name: maestro.platform.patroni
        tasks_from: assert.yml
        public: true

    - name: Record what the collection gave this play.
      ansible.builtin.copy:
        dest: "{{ result_file }}"
        mode: "0600"
        content: >-
          {{ {'postgres_port': maestro_ports.postgres, 'pg_version': patroni_pg_version | int,
              'bin_dir': patroni_pg_bin_dir, 'redis_service': __maestro_redis.service,
              'rules': query('ansible.builtin.fileglob',
                             lookup('maestro.platform.shared', 'dashboards/rules') ~ '/*.yml') | map('basename') | list,
              'ports_file': lookup('maestro.platform.shared', 'config/ports.yaml'),
              'hash': 'a-password-of-24-chars!!' | maestro.platform.maestro_bcrypt('db1:test')} | to_json }}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection built by `make collection` and installed into a scratch collections path."""
    tmp = tmp_path_factory.mktemp("collection")
    build = tmp / "build"
    subprocess.run(
        ["make", "--no-print-directory", "-s", "collection", f"COLLECTION_DIR={build}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (tarball,) = build.glob("maestro-platform-*.tar.gz")
    collections = tmp / "collections"
    # --no-deps: its dependencies (ansible.posix, community.*) come with the ansible package already.
    subprocess.run(
        [str(VENV / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(collections), str(tarball)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return collections


def _site(tmp: Path, release: str) -> tuple[Path, Path, Path]:
    """A site's inventory, variables and playbook, outside the repository."""
    site = tmp / "site"
    site.mkdir()
    inventory = site / "hosts.yml"
    inventory.write_text(yaml.safe_dump(example_inventory()))
    variables = site / "vars.json"
    operators = platform_vars()["maestro_operator_networks"]
    data = {**SECRETS, **PLATFORM, "maestro_operator_networks": operators, "maestro_release": release}
    variables.write_text(json.dumps({**data, "result_file": str(site / "result.json")}))
    playbook = site / "use-maestro.yml"
    playbook.write_text(PLAYBOOK)
    return inventory, variables, playbook


def _ansible(collections: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("release", "major", "redis"), [("Debian-13", 17, "valkey-server"), ("Debian-12", 15, "redis-server")]
)
def test_a_playbook_outside_the_repository_uses_the_installed_collection(
    installed: Path, tmp_path: Path, release: str, major: int, redis: str
) -> None:
    inventory, variables, playbook = _site(tmp_path, release)
    run = _ansible(installed, str(VENV / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e",
                   f"@{variables}", cwd=playbook.parent)  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    result: dict[str, Any] = json.loads((playbook.parent / "result.json").read_text())
    assert result["postgres_port"] == 5432
    assert (result["pg_version"], result["bin_dir"]) == (major, f"/usr/lib/postgresql/{major}/bin")
    assert result["redis_service"] == redis
    # The shared files come from the installed collection, never from this checkout.
    shared = installed / "ansible_collections" / "maestro" / "platform" / "shared"
    assert result["ports_file"] == str(shared / "config" / "ports.yaml")
    assert {"postgres.yml", "redis.yml", "etcd.yml"} <= set(result["rules"])
    assert result["hash"].startswith("$2b$10$")


def test_the_collections_playbooks_resolve_its_roles(installed: Path, tmp_path: Path) -> None:
    inventory, _, _ = _site(tmp_path, "Debian-13")
    for playbook in ("site", "switchover", "backup", "restore", "drill"):
        run = _ansible(installed, str(VENV / "ansible-playbook"), "-i", str(inventory), "--syntax-check",
                       f"maestro.platform.{playbook}", cwd=tmp_path)  # fmt: skip
        assert run.returncode == 0, playbook + ": " + run.stdout[-2000:] + run.stderr[-2000:]


def test_a_release_the_roles_do_not_support_is_refused(installed: Path, tmp_path: Path) -> None:
    inventory, variables, playbook = _site(tmp_path, "Debian-11")
    run = _ansible(installed, str(VENV / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e",
                   f"@{variables}", cwd=playbook.parent)  # fmt: skip
    assert run.returncode != 0
    assert "db1 runs Debian-11; the roles support Debian-12 and Debian-13" in run.stdout
