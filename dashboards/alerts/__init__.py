"""Every rule group, one module per platform part."""

from __future__ import annotations

from dashboards.alerts import api, backups, etcd, haproxy, hosts, mlflow, monitoring, postgres, redis, slo, waf
from dashboards.model import RuleGroup

GROUPS: list[RuleGroup] = [
    api.GROUP,
    slo.GROUP,
    postgres.GROUP,
    etcd.GROUP,
    haproxy.GROUP,
    redis.GROUP,
    mlflow.GROUP,
    backups.GROUP,
    waf.GROUP,
    hosts.GROUP,
    monitoring.GROUP,
]
