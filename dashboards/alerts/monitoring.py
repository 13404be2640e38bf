"""Alerts on the monitoring stack itself: Prometheus, Alertmanager and the dead man's switch."""

from __future__ import annotations

from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import counter, on_target, state
from dashboards.model import Alert, Condition, RuleGroup

PROMETHEUS = Target("prometheus", "mon1:9090", "mon1")
ALERTMANAGER = Target("alertmanager", "mon1:9093", "mon1")
GROUP_NAME = "/etc/prometheus/rules/api.yml;maestro-api"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "Watchdog",
        Condition("vector(1)", series={}, labels={}),
        "1m",
        "none",
        "Always firing: proves the alerting pipeline works end to end.",
        "This alert always fires; its absence at the dead man's switch receiver means alerting is broken.",
        runbook(
            "Not a problem: Alertmanager sends this alert to the dead man's switch receiver continuously. If "
            "that receiver stops hearing it, Prometheus or Alertmanager is down.",
            ["Alertmanager's UI lists Watchdog as active."],
            ["Nothing to fix while it fires. If it is missing, check Prometheus and Alertmanager first."],
            ["The dead man's switch receiver reports heartbeats again."],
        ),
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
        "5m",
        "critical",
        "Prometheus fails to evaluate rules, so alerts may be missed.",
        "Prometheus {{ $labels.instance }} failed {{ $value | humanize }} evaluations of "
        "rule group {{ $labels.rule_group }}.",
        runbook(
            "Some rules cannot be evaluated (often many-to-many matching after a label change): their alerts "
            "cannot fire.",
            ["Prometheus UI, Status > Rules shows the failing rule and its error."],
            ["Fix the rule in dashboards/alerts/, `make dashboards`, deploy; or fix the offending labels."],
            ["The failure counter stops growing."],
        ),
        "5",
    ),
    Alert(
        "PrometheusAlertmanagerUnreachable",
        state(PROMETHEUS, "prometheus_notifications_alertmanagers_discovered", "< 1", values="0x20"),
        "10m",
        "critical",
        "Prometheus has no Alertmanager to send alerts to.",
        "Prometheus {{ $labels.instance }} has discovered no Alertmanager.",
        runbook(
            "Alerts are evaluated but go nowhere: nobody is paged.",
            ["Prometheus UI, Status > Runtime & Build Information: Alertmanagers."],
            ["Fix the `alerting:` section of prometheus.yml or start Alertmanager."],
            ["`prometheus_notifications_alertmanagers_discovered` is at least 1."],
        ),
    ),
    Alert(
        "PrometheusConfigReloadFailed",
        state(PROMETHEUS, "prometheus_config_last_reload_successful", "== 0", values="0x20"),
        "10m",
        "warning",
        "Prometheus failed to load its latest configuration.",
        "Prometheus {{ $labels.instance }} runs an old configuration because the last reload failed.",
        runbook(
            "New scrape targets or rule files are not active; Prometheus keeps the last good configuration.",
            ["`promtool check config /etc/prometheus/prometheus.yml`; the Prometheus log."],
            ["Fix the error promtool names; reload (`systemctl reload prometheus`)."],
            ["`prometheus_config_last_reload_successful` is 1."],
        ),
    ),
    Alert(
        "AlertmanagerConfigReloadFailed",
        state(ALERTMANAGER, "alertmanager_config_last_reload_successful", "== 0", values="0x20"),
        "10m",
        "warning",
        "Alertmanager failed to load its latest configuration.",
        "Alertmanager {{ $labels.instance }} runs an old configuration because the last reload failed.",
        runbook(
            "Routing or receiver changes are not active.",
            ["`amtool check-config /etc/prometheus/alertmanager.yml`; the Alertmanager log."],
            ["Fix the error; the file comes from dashboards/alertmanager/alertmanager.yml."],
            ["`alertmanager_config_last_reload_successful` is 1."],
        ),
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
        "5m",
        "critical",
        "Alertmanager fails to deliver notifications.",
        "Alertmanager {{ $labels.instance }} fails {{ $value | humanizePercentage }} of "
        "{{ $labels.integration }} notifications.",
        runbook(
            "Pages and tickets are not delivered through that integration.",
            ["The Alertmanager log names the receiver and the HTTP error."],
            ["Fix the receiver's credentials or endpoint (see the receiver notes in alertmanager.yml)."],
            ["The failure ratio returns to 0."],
        ),
        "50%",
    ),
)

GROUP = RuleGroup(name="maestro-monitoring", file="monitoring", area="Monitoring stack", alerts=ALERTS)
