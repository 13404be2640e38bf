"""The one playbook runner: its command line and environment, and a real ansible-playbook passing and failing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from maestro import ansible

PLAY = """\
- name: Write what the runner passed.
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the greeting.
      ansible.builtin.copy:
        content: "{{ greeting }}"
        dest: "{{ out }}"
        mode: "0600"
    - name: Fail when asked to.
      ansible.builtin.fail:
        msg: asked to fail
      when: fail | default(false) | bool
"""


def test_command_names_the_repository_playbook_with_json_extra_vars_and_tags() -> None:
    argv = ansible.command("backup.yml", Path("inv.yml"), {"backup_type": "full", "n": 2}, ["backup", "info"])
    assert Path(argv[0]).name == "ansible-playbook"
    assert argv[1:4] == ["-i", "inv.yml", str(ansible.ANSIBLE_DIR / "backup.yml")]
    assert argv[4] == "-e" and json.loads(argv[5]) == {"backup_type": "full", "n": 2}
    assert argv[6:] == ["--tags", "backup,info"]


def test_command_leaves_out_empty_extra_vars_and_tags() -> None:
    assert ansible.command("site.yml", Path("inv.yml"))[1:] == ["-i", "inv.yml", str(ansible.ANSIBLE_DIR / "site.yml")]


def test_environment_uses_the_repository_config_and_this_python_first() -> None:
    env = ansible.environment()
    assert env["ANSIBLE_CONFIG"] == str(ansible.ANSIBLE_DIR / "ansible.cfg")
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def _vars(out: Path, **more: object) -> dict[str, object]:
    # The controller's own Python for the local tasks (interpreter discovery may find another one on this machine).
    return {"ansible_python_interpreter": sys.executable, "out": str(out), **more}


def _playbook(tmp_path: Path) -> str:
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    # An absolute name replaces the ansible/ directory the runner joins it to.
    return str(play)


def test_a_passing_playbook_returns_with_the_extra_vars_applied(tmp_path: Path) -> None:
    out = tmp_path / "greeting.txt"
    ansible.run_playbook(_playbook(tmp_path), Path("localhost,"), _vars(out, greeting="hello"))
    assert out.read_text() == "hello"


def test_a_failing_playbook_raises_playbook_error(tmp_path: Path) -> None:
    out = tmp_path / "greeting.txt"
    with pytest.raises(ansible.PlaybookError, match=r"play\.yml failed \(2\); nothing after it ran"):
        ansible.run_playbook(_playbook(tmp_path), Path("localhost,"), _vars(out, greeting="x", fail=True))
    assert out.read_text() == "x"  # the tasks before the failure ran
