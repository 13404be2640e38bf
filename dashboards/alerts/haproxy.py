"""Alerts on HAProxy, which routes Postgres clients to the Patroni leader (HAProxy's built-in Prometheus
exporter, labels `proxy` and `server`)."""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import on_target, state
from dashboards.model import Alert, RuleGroup

HAPROXY = Target("haproxy", "db1:7000", "db1")
STATS = "HAProxy's stats page (port haproxy_stats in config/ports.yaml) or `echo 'show stat' | socat ...`"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "HaproxyDown",
        state(HAPROXY, "up", "== 0"),
        "2m",
        "critical",
        "Prometheus cannot scrape an HAProxy instance.",
        "HAProxy {{ $labels.instance }} on {{ $labels.instance_name }} does not answer scrapes.",
        runbook(
            "HAProxy on that host is down: clients that use it cannot reach Postgres.",
            ["`systemctl status haproxy` on the host; `curl -s http://<host>:<haproxy_stats>/metrics`."],
            ["`haproxy -c -f /etc/haproxy/haproxy.cfg` for config errors, then `systemctl restart haproxy`."],
            ['`up{job="haproxy"}` is 1 for the instance.'],
        ),
    ),
    Alert(
        "HaproxyBackendNoActiveServers",
        state(HAPROXY, "haproxy_backend_active_servers", "== 0", labels={"proxy": "postgres_replicas"}),
        "1m",
        "critical",
        "An HAProxy backend has no healthy server.",
        "HAProxy backend {{ $labels.proxy }} on {{ $labels.instance_name }} has no active server.",
        runbook(
            f"Every server of the backend fails its health check (Patroni's REST API). For {c.HAPROXY_PRIMARY_BACKEND} "
            "that means no leader: writes fail. For the replica backend, reads fail.",
            [STATS, "`curl -s http://<member>:8008/primary` (200 on the leader) and `/replica`."],
            ["No leader: see PatroniNoLeader. Patroni REST API unreachable: check the member's firewall."],
            ["The backend shows at least one UP server."],
        ),
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
        "1m",
        "critical",
        "HAProxy routes writes to more than one Postgres server.",
        "HAProxy on {{ $labels.instance_name }} sends writes to {{ $value }} servers.",
        runbook(
            "More than one member answers Patroni's /primary health check: split brain as seen by the clients.",
            [STATS, "See PatroniMultiplePrimaries."],
            ["Follow PatroniMultiplePrimaries; check the backend's health check is `GET /primary`."],
            ["The primary backend shows exactly one UP server."],
        ),
        "2",
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
        "10m",
        "warning",
        "HAProxy fails to connect to backend servers.",
        "HAProxy backend {{ $labels.proxy }} on {{ $labels.instance_name }} fails "
        "{{ $value | humanize }} connections per second.",
        runbook(
            "HAProxy picks a server that then refuses the connection: clients see connection resets.",
            [STATS, "Postgres logs on the servers for connection refusals (max_connections, pg_hba)."],
            ["See PostgresTooManyConnections; check pg_hba.conf allows the HAProxy hosts."],
            ["The error rate returns to 0."],
        ),
        "1",
    ),
)

GROUP = RuleGroup(name="maestro-haproxy", file="haproxy", area="HAProxy", alerts=ALERTS)
