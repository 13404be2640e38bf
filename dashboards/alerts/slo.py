"""API SLOs: SLI ratios recorded per window, and multi-window multi-burn-rate alerts (Google SRE workbook).

Error budget = 1 - target over config.SLO_WINDOW_DAYS. A burn rate of 1 spends the budget exactly in the
window; the alerts page when both a long and a short window burn faster than the tier's rate, so they fire
fast on big outages and stop soon after recovery (the short window clears).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dashboards import config as c
from dashboards.alerts._helpers import API, runbook
from dashboards.model import Alert, Condition, RecordingRule, RuleGroup, Severity
from dashboards.render.rules import runbook_url

USER_TRAFFIC = f'{API.match}, route!~"{"|".join(c.SLO_EXCLUDED_ROUTES)}"'
LE = f"{c.SLO_LATENCY_THRESHOLD_SECONDS:g}"

SLIS: dict[str, dict[str, Any]] = {
    "Availability": {
        "record": "maestro:api_availability_errors:ratio_rate{w}",
        "expr": (
            f'sum by (job) (rate(maestro_http_requests_total{{{USER_TRAFFIC}, status=~"5.."}}[{{w}}]))\n'
            f"  / sum by (job) (rate(maestro_http_requests_total{{{USER_TRAFFIC}}}[{{w}}]))"
        ),
        "target": c.SLO_AVAILABILITY_TARGET,
        "what": "5xx responses",
    },
    "Latency": {
        "record": "maestro:api_latency_errors:ratio_rate{w}",
        "expr": (
            "1 - sum by (job) (rate(maestro_http_request_duration_seconds_bucket"
            f'{{{USER_TRAFFIC}, le="{LE}"}}[{{w}}]))\n'
            f"  / sum by (job) (rate(maestro_http_request_duration_seconds_count{{{USER_TRAFFIC}}}[{{w}}]))"
        ),
        "target": c.SLO_LATENCY_TARGET,
        "what": f"requests slower than {LE} s",
    },
}


def record_name(sli: str, window: str) -> str:
    """The recorded SLI error ratio of one SLI over one window."""
    return str(SLIS[sli]["record"]).replace("{w}", window)


def _recordings() -> tuple[RecordingRule, ...]:
    out = []
    for sli in SLIS.values():
        for w in c.SLO_WINDOWS:
            out.append(
                RecordingRule(
                    record=str(sli["record"]).replace("{w}", w), expr=str(sli["expr"]).replace("[{w}]", f"[{w}]")
                )
            )
    return tuple(out)


def _traffic(errors_per_min: int, total_per_min: int, minutes: int, sli: str) -> dict[str, str]:
    """Input series for the SLI: one route, `total_per_min` requests a minute of which `errors_per_min` are bad."""
    route = {"method": "GET", "route": "/v1/models"}
    good, bad, total = (f"0+{n}x{minutes}" for n in (total_per_min - errors_per_min, errors_per_min, total_per_min))
    if sli == "Availability":
        return {
            API.series("maestro_http_requests_total", **route, status="200"): good,
            API.series("maestro_http_requests_total", **route, status="500"): bad,
        }
    return {
        API.series("maestro_http_request_duration_seconds_bucket", **route, le=LE): good,
        API.series("maestro_http_request_duration_seconds_count", **route): total,
    }


def _per_10000(burn: float, target: float, delta: int) -> int:
    """Bad requests per 10,000 at `burn` times the budget, plus delta (so just above or just below it)."""
    return round(burn * (1 - target) * 10000) + delta


def _alerts() -> tuple[Alert, ...]:
    out = []
    for sli, spec in SLIS.items():
        target = float(spec["target"])
        for suffix, burn, long_w, short_w, for_, severity in c.BURN_RATE_ALERTS:
            sev: Severity = severity  # type: ignore[assignment]
            threshold = f"({burn:g} * (1 - {target:g}))"
            name = f"Api{sli}{suffix}"
            bad = _per_10000(burn, target, +1)
            out.append(
                Alert(
                    name,
                    Condition(
                        f"{record_name(sli, long_w)} > {threshold}\nand\n{record_name(sli, short_w)} > {threshold}",
                        series=_traffic(bad, 10000, 200, sli),
                        labels={"job": "maestro-api"},
                        onset="1m",
                    ),
                    for_=for_,
                    severity=sev,
                    summary=f"The API spends its {sli.lower()} error budget at {burn:g}x the sustainable rate.",
                    description=(
                        "{{ $value | humanizePercentage }} of {{ $labels.job }} requests "
                        f"over the last {short_w} were "
                        f"{spec['what']} (SLO {target:.1%}); over {long_w} the budget burns at {burn:g}x or more."
                    ),
                    runbook=runbook(
                        f"The API's {sli.lower()} SLO ({target:.1%} over {c.SLO_WINDOW_DAYS} days) is at risk: "
                        f"at this burn rate the error budget is gone in {c.SLO_WINDOW_DAYS / burn:.1f} days. "
                        f"Both the {long_w} and the {short_w} windows exceed {burn:g}x, so the problem is "
                        "ongoing, not a past spike.",
                        [
                            "Open the Grafana dashboard 'Maestro / API', row 'SLO', and the per-route panels.",
                            f"Query `{record_name(sli, short_w)}` and `{record_name(sli, long_w)}` in Prometheus.",
                        ],
                        [
                            "Find the routes that contribute (error ratio or P99 per route) and their upstream "
                            "(MLflow, Postgres, Redis) alerts; fix those first.",
                            "A bad release: roll back. Overload: scale out the API.",
                        ],
                        [f"`{record_name(sli, short_w)}` falls below {burn:g}x the budget; the alert resolves."],
                    ),
                    value=f"{bad / 100:g}%",
                )
            )
    return tuple(out)


ALERTS = _alerts()


def _annotations(alert: Alert, description: str) -> dict[str, str]:
    return {"summary": alert.summary, "description": description, "runbook_url": runbook_url(alert.name)}


def _boundary_tests() -> tuple[dict[str, object], ...]:
    """Burn-rate boundaries: just under a tier's rate never fires it; a recovered short window silences it."""
    tests: list[dict[str, object]] = []
    for sli, spec in SLIS.items():
        target = float(spec["target"])
        for suffix, burn, _long_w, short_w, _for, _sev in c.BURN_RATE_ALERTS:
            bad = _per_10000(burn, target, -1)
            tests.append(
                {
                    "name": f"Api{sli}{suffix} stays silent at {bad}/10000 bad, just under {burn:g}x the budget",
                    "interval": "1m",
                    "input_series": [{"series": s, "values": v} for s, v in _traffic(bad, 10000, 200, sli).items()],
                    "alert_rule_test": [{"eval_time": "180m", "alertname": f"Api{sli}{suffix}", "exp_alerts": []}],
                    "promql_expr_test": [
                        {
                            "expr": f"abs({record_name(sli, short_w)} - {bad / 10000!r}) < bool 1e-9",
                            "eval_time": "180m",
                            "exp_samples": [{"labels": '{job="maestro-api"}', "value": 1}],
                        }
                    ],
                }
            )
        # Multi-window: 3x the fast tier for an hour, then clean traffic. The 1h window still burns above 14.4x
        # at 70m but the 5m window is clean, so the page must be resolved.
        suffix, burn, long_w, short_w, _for, _sev = c.BURN_RATE_ALERTS[0]
        bad = _per_10000(burn, target, 0) * 3
        tests.append(
            {
                "name": f"Api{sli}{suffix} resolves once the {short_w} window is clean, though {long_w} still burns",
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in _recovery(bad, 10000, sli).items()],
                "alert_rule_test": [
                    {
                        "eval_time": "50m",
                        "alertname": f"Api{sli}{suffix}",
                        "exp_alerts": [_burn_alert(sli, suffix, bad)],
                    },
                    {"eval_time": "70m", "alertname": f"Api{sli}{suffix}", "exp_alerts": []},
                ],
                "promql_expr_test": [
                    {
                        "expr": f"{record_name(sli, long_w)} > bool ({burn:g} * (1 - {target:g}))",
                        "eval_time": "70m",
                        "exp_samples": [{"labels": '{job="maestro-api"}', "value": 1}],
                    }
                ],
            }
        )
    return tuple(tests)


def _recovery(bad: int, total: int, sli: str) -> dict[str, str]:
    """`bad` of `total` requests a minute fail for 60 minutes, then every request succeeds for 20 minutes."""
    good = total - bad
    ok_tail = f"{good * 60 + total}+{total}x19"
    bad_tail = f"{bad * 60}x19"
    out = {}
    for series, values in _traffic(bad, total, 60, sli).items():
        if 'status="500"' in series:
            out[series] = f"{values} {bad_tail}"
        elif "_count" in series:
            out[series] = f"{values} {total * 60 + total}+{total}x19"
        else:
            out[series] = f"{values} {ok_tail}"
    return out


def _burn_alert(sli: str, suffix: str, bad: int) -> dict[str, object]:
    """The firing alert as promtool expects it while `bad` per 10,000 requests fail (before recovery)."""
    alert = next(a for a in ALERTS if a.name == f"Api{sli}{suffix}")
    return {
        "exp_labels": {"job": "maestro-api", "severity": alert.severity},
        "exp_annotations": _annotations(alert, replace(alert, value=f"{bad / 100:g}%").fired),
    }


GROUP = RuleGroup(
    name="maestro-api-slo",
    file="slo",
    area="API SLOs",
    alerts=ALERTS,
    recordings=_recordings(),
    extra_tests=_boundary_tests(),
)
