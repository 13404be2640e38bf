"""A second run of site.yml against the running lab changes nothing."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from maestro import ansible
from maestro.lab.topology import HOSTS, INVENTORY
from maestro.paths import ROOT

pytestmark = pytest.mark.lab


def test_second_site_run_reports_zero_changed(lab_endpoints: dict[str, Any]) -> None:
    # The playbook as `maestro lab up` runs it, with its output captured to read the recap.
    cmd = ansible.command("site.yml", INVENTORY)
    env = dict(ansible.environment(), ANSIBLE_CALLBACKS_ENABLED="", ANSIBLE_DISPLAY_OK_HOSTS="false")
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    recap = re.findall(r"^(\S+)\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert {h for h, *_ in recap} == {h.name for h in HOSTS}
    changed = {h: int(c) for h, c, _, _ in recap if int(c) != 0}
    assert changed == {}, (
        "changed tasks:\n"
        + "\n".join(
            line for line in proc.stdout.splitlines() if line.startswith("changed:") or line.startswith("TASK")
        )[-4000:]
    )
