"""Alerts on the monitoring stack itself: Prometheus, Alertmanager and the dead man's switch."""

from __future__ import annotations

from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, Condition, RuleGroup

PROMETHEUS = Target("prometheus", "mon1:9090", "mon1")
ALERTMANAGER = Target("alertmanager", "mon1:9093", "mon1")
GROUP_NAME = "/etc/prometheus/rules/api.yml;maestro-api"

ALERTS = (
    Alert(
        "Watchdog",
        Condition("vector(1)", series={}, labels={}),
        for_="1m",
        severity="none",
        summary="Always firing: proves the alerting pipeline works end to end.",
        description="This alert always fires; its absence at the dead man's switch receiver means alerting is broken.",
        runbook=runbook(
            "Not a problem: Alertmanager sends this alert to the dead man's switch receiver continuously. If "
            "that receiver stops hearing it, Prometheus or Alertmanager is down.",
            confirm=["Alertmanager's UI lists Watchdog as active."],
            fix=["Nothing to fix while it fires. If it is missing, check Prometheus and Alertmanager first."],
            verify=["The dead man's switch receiver reports heartbeats again."],
        ),
        fired="This alert always fires; its absence at the dead man's switch receiver means alerting is broken.",
    ),
    Alert(
        "PrometheusRuleEvaluationFailures",
        counter(
            PROMETHEUS,
            "prometheus_rule_evaluation_failures_total",
            "5m",
            "> 0",
            labels={"rule_group": GROUP_NAME},
            values="0+1x20",
        ),
        for_="5m",
        severity="critical",
        summary="Prometheus fails to evaluate rules, so alerts may be missed.",
        description="Prometheus {{ $labels.instance }} failed {{ $value | humanize }} evaluations of "
        "rule group {{ $labels.rule_group }}.",
        runbook=runbook(
            "Some rules cannot be evaluated (often many-to-many matching after a label change): their alerts "
            "cannot fire.",
            confirm=["Prometheus UI, Status > Rules shows the failing rule and its error."],
            fix=["Fix the rule in dashboards/alerts/, `make dashboards`, deploy; or fix the offending labels."],
            verify=["The failure counter stops growing."],
        ),
        fired="Prometheus mon1:9090 failed 5 evaluations of rule group /etc/prometheus/rules/api.yml;maestro-api.",
    ),
    Alert(
        "PrometheusAlertmanagerUnreachable",
        state(PROMETHEUS, "prometheus_notifications_alertmanagers_discovered", "< 1", values="0x20"),
        for_="10m",
        severity="critical",
        summary="Prometheus has no Alertmanager to send alerts to.",
        description="Prometheus {{ $labels.instance }} has discovered no Alertmanager.",
        runbook=runbook(
            "Alerts are evaluated but go nowhere: nobody is paged.",
            confirm=["Prometheus UI, Status > Runtime & Build Information: Alertmanagers."],
            fix=["Fix the `alerting:` section of prometheus.yml or start Alertmanager."],
            verify=["`prometheus_notifications_alertmanagers_discovered` is at least 1."],
        ),
        fired="Prometheus mon1:9090 has discovered no Alertmanager.",
    ),
    Alert(
        "PrometheusConfigReloadFailed",
        state(PROMETHEUS, "prometheus_config_last_reload_successful", "== 0", values="0x20"),
        for_="10m",
        severity="warning",
        summary="Prometheus failed to load its latest configuration.",
        description="Prometheus {{ $labels.instance }} runs an old configuration because the last reload failed.",
        runbook=runbook(
            "New scrape targets or rule files are not active; Prometheus keeps the last good configuration.",
            confirm=["`promtool check config /etc/prometheus/prometheus.yml`; the Prometheus log."],
            fix=["Fix the error promtool names; reload (`systemctl reload prometheus`)."],
            verify=["`prometheus_config_last_reload_successful` is 1."],
        ),
        fired="Prometheus mon1:9090 runs an old configuration because the last reload failed.",
    ),
    Alert(
        "AlertmanagerConfigReloadFailed",
        state(ALERTMANAGER, "alertmanager_config_last_reload_successful", "== 0", values="0x20"),
        for_="10m",
        severity="warning",
        summary="Alertmanager failed to load its latest configuration.",
        description="Alertmanager {{ $labels.instance }} runs an old configuration because the last reload failed.",
        runbook=runbook(
            "Routing or receiver changes are not active.",
            confirm=["`amtool check-config /etc/prometheus/alertmanager.yml`; the Alertmanager log."],
            fix=["Fix the error; the file comes from dashboards/alertmanager/alertmanager.yml."],
            verify=["`alertmanager_config_last_reload_successful` is 1."],
        ),
        fired="Alertmanager mon1:9093 runs an old configuration because the last reload failed.",
    ),
    Alert(
        "AlertmanagerNotificationsFailing",
        on_target(
            ALERTMANAGER,
            "sum by (job, instance, instance_name, integration)\n"
            f"    (rate(alertmanager_notifications_failed_total{{{ALERTMANAGER.match}}}[5m]))\n"
            "  / sum by (job, instance, instance_name, integration)\n"
            f"    (rate(alertmanager_notifications_total{{{ALERTMANAGER.match}}}[5m]))\n"
            f"  > 0.01",
            {"alertmanager_notifications_failed_total": "0+5x20", "alertmanager_notifications_total": "0+10x20"},
            labels={"integration": "webhook"},
            onset="1m",
        ),
        for_="5m",
        severity="critical",
        summary="Alertmanager fails to deliver notifications.",
        description="Alertmanager {{ $labels.instance }} fails {{ $value | humanizePercentage }} of "
        "{{ $labels.integration }} notifications.",
        runbook=runbook(
            "Pages and tickets are not delivered through that integration.",
            confirm=["The Alertmanager log names the receiver and the HTTP error."],
            fix=["Fix the receiver's credentials or endpoint (see the receiver notes in alertmanager.yml)."],
            verify=["The failure ratio returns to 0."],
        ),
        fired="Alertmanager mon1:9093 fails 50% of webhook notifications.",
    ),
)

GROUP = RuleGroup(name="maestro-monitoring", file="monitoring", area="Monitoring stack", alerts=ALERTS)
