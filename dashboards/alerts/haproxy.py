"""Alerts on HAProxy, which routes Postgres clients to the Patroni leader (HAProxy's built-in Prometheus
exporter, labels `proxy` and `server`)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import on_target, state
from dashboards.model import Alert, RuleGroup

HAPROXY = Target("haproxy", "db1:7000", "db1")
STATS = "HAProxy's stats page (port haproxy_stats in config/ports.yaml) or `echo 'show stat' | socat ...`"

ALERTS = (
    Alert(
        "HaproxyDown",
        state(HAPROXY, "up", "== 0"),
        for_="2m",
        severity="critical",
        summary="Prometheus cannot scrape an HAProxy instance.",
        description="HAProxy {{ $labels.instance }} on {{ $labels.instance_name }} does not answer scrapes.",
        runbook=runbook(
            "HAProxy on that host is down: clients that use it cannot reach Postgres.",
            confirm=["`systemctl status haproxy` on the host; `curl -s http://<host>:<haproxy_stats>/metrics`."],
            fix=["`haproxy -c -f /etc/haproxy/haproxy.cfg` for config errors, then `systemctl restart haproxy`."],
            verify=['`up{job="haproxy"}` is 1 for the instance.'],
        ),
        fired="HAProxy db1:7000 on db1 does not answer scrapes.",
    ),
    Alert(
        "HaproxyBackendNoActiveServers",
        state(HAPROXY, "haproxy_backend_active_servers", "== 0", labels={"proxy": "postgres_replicas"}),
        for_="1m",
        severity="critical",
        summary="An HAProxy backend has no healthy server.",
        description="HAProxy backend {{ $labels.proxy }} on {{ $labels.instance_name }} has no active server.",
        runbook=runbook(
            f"Every server of the backend fails its health check (Patroni's REST API). For {c.HAPROXY_PRIMARY_BACKEND} "
            "that means no leader: writes fail. For the replica backend, reads fail.",
            confirm=[STATS, "`curl -s http://<member>:8008/primary` (200 on the leader) and `/replica`."],
            fix=["No leader: see PatroniNoLeader. Patroni REST API unreachable: check the member's firewall."],
            verify=["The backend shows at least one UP server."],
        ),
        fired="HAProxy backend postgres_replicas on db1 has no active server.",
    ),
    Alert(
        "HaproxyPrimaryBackendMultipleServers",
        state(
            HAPROXY,
            "haproxy_backend_active_servers",
            "> 1",
            match=f'proxy="{c.HAPROXY_PRIMARY_BACKEND}"',
            labels={"proxy": c.HAPROXY_PRIMARY_BACKEND},
            values="2x10",
        ),
        for_="1m",
        severity="critical",
        summary="HAProxy routes writes to more than one Postgres server.",
        description="HAProxy on {{ $labels.instance_name }} sends writes to {{ $value }} servers.",
        runbook=runbook(
            "More than one member answers Patroni's /primary health check: split brain as seen by the clients.",
            confirm=[STATS, "See PatroniMultiplePrimaries."],
            fix=["Follow PatroniMultiplePrimaries; check the backend's health check is `GET /primary`."],
            verify=["The primary backend shows exactly one UP server."],
        ),
        fired="HAProxy on db1 sends writes to 2 servers.",
    ),
    Alert(
        "HaproxyBackendConnectionErrors",
        on_target(
            HAPROXY,
            "sum by (job, instance, instance_name, proxy)\n"
            f"  (rate(haproxy_backend_connection_errors_total{{{HAPROXY.match}}}[5m])) > 0.1",
            {"haproxy_backend_connection_errors_total": "0+60x30"},
            labels={"proxy": "postgres_primary"},
            onset="1m",
        ),
        for_="10m",
        severity="warning",
        summary="HAProxy fails to connect to backend servers.",
        description="HAProxy backend {{ $labels.proxy }} on {{ $labels.instance_name }} fails "
        "{{ $value | humanize }} connections per second.",
        runbook=runbook(
            "HAProxy picks a server that then refuses the connection: clients see connection resets.",
            confirm=[STATS, "Postgres logs on the servers for connection refusals (max_connections, pg_hba)."],
            fix=["See PostgresTooManyConnections; check pg_hba.conf allows the HAProxy hosts."],
            verify=["The error rate returns to 0."],
        ),
        fired="HAProxy backend postgres_primary on db1 fails 1 connections per second.",
    ),
)

GROUP = RuleGroup(name="maestro-haproxy", file="haproxy", area="HAProxy", alerts=ALERTS)
