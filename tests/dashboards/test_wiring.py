"""The hosts path's scrape configuration (Ansible monitoring role, read here, owned there) produces the job names
and the per-machine label our rules and the Alertmanager inhibition rely on."""

from __future__ import annotations

import re

from dashboards import config
from maestro.paths import ROOT

TEMPLATE = ROOT / "ansible/roles/monitoring/templates/prometheus.yml.j2"


def hosts_path_job(name: str) -> str:
    """The hosts path's job name of a config.JOBS entry (the first alternative of its regex)."""
    return config.job_regex(name).split("|")[0]


def test_every_job_our_rules_use_is_scraped_on_the_hosts_path() -> None:
    text = TEMPLATE.read_text()
    scraped = set(re.findall(r"job_name:\s*([\w-]+)", text))
    assert {hosts_path_job(n) for n in config.JOBS} <= scraped


def test_every_host_target_carries_the_machine_label_the_inhibition_matches() -> None:
    text = TEMPLATE.read_text()
    jobs = re.split(r"\n  - job_name:", text)[1:]
    per_machine = [j for j in jobs if not j.lstrip().startswith(("prometheus", "alertmanager"))]
    assert per_machine
    for block in per_machine:
        assert "labels: {instance_name:" in block, block.splitlines()[0]


def test_the_job_check_notices_a_missing_job() -> None:
    scraped = {"node", "postgres"}
    assert {hosts_path_job(n) for n in config.JOBS} - scraped  # e.g. maestro-api, patroni, ... are missing
