"""Platform overview: is every part up, are the SLOs holding, what is firing."""

from __future__ import annotations

from dashboards import config as c
from dashboards.boards._common import Board, Query, aggregate, gauge, rate, single, ts

BOARD = Board(
    uid="maestro-overview",
    title="Maestro / Platform overview",
    description="One screen for the whole platform: targets up, API SLOs and error budget, firing alerts.",
    job_regex=".+",
    rows=(
        (
            "Health",
            (
                single(
                    "Targets up",
                    "Share of scrape targets of the selected jobs that answer (1 = all up).",
                    "percentunit",
                    gauge("avg", "up", "job"),
                    width=12,
                ),
                single(
                    "Firing alerts",
                    "Alerts firing now, by severity.",
                    "short",
                    Query('count by (severity) (ALERTS{alertstate="firing"})', "{{severity}}"),
                ),
                single(
                    "Hosts down",
                    "node_exporter targets that do not answer.",
                    "short",
                    Query(f'count(up{{{c.JOBS["node"]}, instance=~"$instance"}} == 0) or vector(0)'),
                ),
            ),
        ),
        (
            "API SLOs",
            (
                ts(
                    "Availability SLI (1h)",
                    f"Share of non-5xx API responses over 1h; the SLO is {c.SLO_AVAILABILITY_TARGET:.1%}.",
                    "percentunit",
                    Query("1 - maestro:api_availability_errors:ratio_rate1h", "availability"),
                ),
                ts(
                    "Latency SLI (1h)",
                    f"Share of API requests served within {c.SLO_LATENCY_THRESHOLD_SECONDS} s over 1h; the SLO is "
                    f"{c.SLO_LATENCY_TARGET:.0%}.",
                    "percentunit",
                    Query("1 - maestro:api_latency_errors:ratio_rate1h", "within threshold"),
                ),
                ts(
                    "Error budget burn rate",
                    "How many times faster than sustainable each SLO spends its budget (1h window); 14.4 pages.",
                    "short",
                    Query(
                        f"maestro:api_availability_errors:ratio_rate1h / (1 - {c.SLO_AVAILABILITY_TARGET})",
                        "availability",
                    ),
                    Query(f"maestro:api_latency_errors:ratio_rate1h / (1 - {c.SLO_LATENCY_TARGET})", "latency"),
                    width=24,
                ),
            ),
        ),
        (
            "Traffic",
            (
                ts(
                    "API requests",
                    "Requests per second served by the API, by status class.",
                    "reqps",
                    Query(
                        f'sum by (status) (label_replace({rate("maestro_http_requests_total")}, "status", "${{1}}xx", '
                        '"status", "(.).."))',
                        "{{status}}",
                    ),
                ),
                ts(
                    "Host CPU busy",
                    "Share of CPU time not idle, per host.",
                    "percentunit",
                    Query(
                        "1 - " + aggregate("avg", rate("node_cpu_seconds_total", 'mode="idle"'), "instance_name"),
                        "{{instance_name}}",
                    ),
                ),
            ),
        ),
    ),
)
