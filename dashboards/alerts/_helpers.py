"""Small helpers that keep alert modules short: the scrape targets the scenarios fake, series selectors and runbook
construction."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboards import config as c
from dashboards.model import Runbook


def sel(metric: str, **labels: str) -> str:
    """A promtool input series selector, labels in a stable order: sel("up", job="x") -> 'up{job="x"}'."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def runbook(meaning: str, confirm: list[str], fix: list[str], verify: list[str]) -> Runbook:
    """A Runbook from plain lists, in the order the page reads: what it means, how to confirm, fix and verify."""
    return Runbook(meaning=meaning, confirm=tuple(confirm), fix=tuple(fix), verify=tuple(verify))


@dataclass(frozen=True)
class Target:
    """One scrape target of a job: how the rules select the job (config.JOBS) and the labels its series carry in
    the promtool scenarios (the hosts path's job name, the instance, the machine's inventory name, and any more)."""

    job: str
    """The job's key in config.JOBS."""
    instance: str
    instance_name: str
    more: dict[str, str] = field(default_factory=dict)
    """Further labels every series of the target carries (a Patroni scope, a backup cluster)."""

    @property
    def match(self) -> str:
        """The job's label matcher, for rule expressions: 'job=~"maestro-api"'."""
        return c.job(self.job)

    @property
    def labels(self) -> dict[str, str]:
        """The labels of the target's series in the scenarios, job first."""
        name = c.job_regex(self.job).split("|")[0]
        return {"job": name, "instance": self.instance, "instance_name": self.instance_name, **self.more}

    def series(self, metric: str, **labels: str) -> str:
        """The scenario selector of one of the target's series, with more labels."""
        return sel(metric, **self.labels, **labels)


API = Target("api", "api1:8000", "api1")
"""The API instance the API, MLflow and SLO scenarios fake."""
