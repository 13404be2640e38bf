"""Alerts on the WAF (nginx + ModSecurity + OWASP CRS on the hosts path).

nginx exports nothing to Prometheus by itself and no nginx exporter is deployed, so the WAF's numbers come
from node_exporter textfile metrics written by the WAF log tailer on each nginx host (a contract with the
Ansible nginx role, listed in tests/dashboards/fixtures/exporter_metrics.yml under `waf_textfile`):
maestro_waf_requests_total, maestro_waf_blocked_requests_total (counters), maestro_waf_rule_engine_enabled
(1 when SecRuleEngine is On) and maestro_waf_metrics_last_update_timestamp_seconds.
"""

from __future__ import annotations

from dashboards import config as c
from dashboards.alerts._helpers import Target, runbook
from dashboards.alerts.shapes import on_target, ratio, state
from dashboards.model import Alert, RuleGroup

EDGE = Target("node", "edge1:9100", "edge1")
AUDIT = "the ModSecurity JSON audit log on the host (/var/log/nginx/modsec_audit.json)"

# name, condition, for, severity, summary, description, runbook(meaning, confirm, fix, verify), value
ALERTS = (
    Alert(
        "WafBlockRateHigh",
        on_target(
            EDGE,
            ratio(
                "job, instance, instance_name",
                f"rate(maestro_waf_blocked_requests_total{{{EDGE.match}}}[5m])",
                f"rate(maestro_waf_requests_total{{{EDGE.match}}}[5m])",
                f"> {c.WAF_BLOCK_RATIO}",
            ),
            {"maestro_waf_requests_total": "0+100x30", "maestro_waf_blocked_requests_total": "0+20x30"},
            onset="1m",
        ),
        "10m",
        "warning",
        "The WAF blocks an unusual share of requests.",
        "The WAF on {{ $labels.instance_name }} blocks {{ $value | humanizePercentage }} of requests.",
        runbook(
            "Either an attack is under way or a CRS rule blocks legitimate API traffic (a false positive after "
            "a client or API change).",
            [f"Read {AUDIT}: which rule ids match, from which clients, on which paths."],
            [
                "Attack: leave blocking on; add the sources to the edge deny list if they persist.",
                "False positive: add a narrow rule exclusion (by rule id and path) in the nginx role, never "
                "disable the engine.",
            ],
            ["The blocked share returns to its usual level."],
        ),
        "20%",
    ),
    Alert(
        "WafNotBlocking",
        state(EDGE, "maestro_waf_rule_engine_enabled", "== 0"),
        "5m",
        "critical",
        "The WAF's rule engine is not blocking.",
        "ModSecurity on {{ $labels.instance_name }} runs with SecRuleEngine off or DetectionOnly.",
        runbook(
            "Requests reach the API uninspected or unblocked. Production requires blocking mode.",
            ["`grep -R SecRuleEngine /etc/nginx/` on the host."],
            ["Re-run the Ansible nginx role (it sets SecRuleEngine On); investigate who changed it."],
            ["`maestro_waf_rule_engine_enabled` is 1; a CRS test request (e.g. `/?q=<script>`) gets 403."],
        ),
    ),
    Alert(
        "WafMetricsStale",
        on_target(
            EDGE,
            f"time() - maestro_waf_metrics_last_update_timestamp_seconds{{{EDGE.match}}}"
            f" > {c.WAF_METRICS_MAX_AGE_SECONDS}",
            {"maestro_waf_metrics_last_update_timestamp_seconds": "-100x20"},
            onset="4m",
        ),
        "5m",
        "warning",
        "The WAF log tailer stopped updating its metrics.",
        "WAF metrics on {{ $labels.instance_name }} were last written {{ $value | humanizeDuration }} ago.",
        runbook(
            "The WAF alerts above are blind: the log tailer that writes the textfile metrics is not running.",
            ["`systemctl status maestro-waf-metrics.timer` on the host; the textfile directory's files."],
            ["Restart the timer; check the nginx log path it reads still exists after log rotation."],
            ["`maestro_waf_metrics_last_update_timestamp_seconds` moves forward."],
        ),
        "10m 40s",
    ),
)

GROUP = RuleGroup(name="maestro-waf", file="waf", area="WAF", alerts=ALERTS)
