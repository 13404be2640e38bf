"""Building blocks every dashboard uses: the datasource/job/instance variables, the query shapes the panels share
(rates, shares, quantiles, aggregated gauges, ages, all on the selected jobs and instances), and panels that cannot
be built without a title, a description and a unit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

# Every query and variable points at the datasource the viewer picks.
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
# The label matchers every query carries, bound to the job and instance variables.
SEL = 'job=~"$job", instance=~"$instance"'
# The range of every rate(): Grafana's own interval, wide enough for the scrape interval.
RATE = "[$__rate_interval]"


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """A panel: kind is "timeseries" or "stat"; unit is a Grafana unit id (s, percentunit, bytes, reqps, ...)."""

    kind: str
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    width: int = 12
    height: int = 8

    def __post_init__(self) -> None:
        for name in ("title", "description", "unit"):
            if not getattr(self, name).strip():
                raise ValueError(f"panel {self.title!r}: {name} must not be empty")
        if not self.queries:
            raise ValueError(f"panel {self.title!r}: needs at least one query")


def ts(title: str, description: str, unit: str, *queries: Query, width: int = 12) -> Panel:
    """A time series panel."""
    return Panel("timeseries", title, description, unit, queries, width=width)


def single(title: str, description: str, unit: str, *queries: Query, width: int = 6) -> Panel:
    """A stat panel (one number per series)."""
    return Panel("stat", title, description, unit, queries, width=width, height=5)


def selected(metric: str, match: str = "") -> str:
    """`metric` on the selected jobs and instances, plus any further matchers: selected("up") -> 'up{job=~...}'."""
    return f"{metric}{{{SEL}{', ' if match else ''}{match}}}"


def rate(counter: str, match: str = "") -> str:
    """The per-second rate of a counter on the selection."""
    return f"rate({selected(counter, match)}{RATE})"


def aggregate(op: str, expr: str, by: str) -> str:
    """`expr` aggregated with `op` (sum, max, ...) by the `by` labels (comma-separated), or into one series."""
    return f"{op} by ({by}) ({expr})" if by else f"{op}({expr})"


def legend_of(by: str) -> str:
    """The legend that names a series by the values of the `by` labels: "tier, scope" -> "{{tier}} {{scope}}"."""
    return " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(",") if label.strip())


def rate_by(counter: str, by: str = "", legend: str = "") -> Query:
    """The per-second rate of a counter summed by the `by` labels; the legend defaults to their values."""
    return Query(aggregate("sum", rate(counter), by), legend or legend_of(by))


def share(counter: str, match: str, by: str = "", legend: str = "") -> Query:
    """The share of a counter's rate on the series that match `match`, per `by` label."""
    part, whole = aggregate("sum", rate(counter, match), by), aggregate("sum", rate(counter), by)
    return Query(f"{part}\n  / {whole}", legend or legend_of(by))


def quantile(q: float, histogram: str, by: str) -> Query:
    """The q-quantile of a histogram (its _bucket series) per `by` label."""
    return Query(
        f"histogram_quantile({q:g}, {aggregate('sum', rate(histogram + '_bucket'), by + ', le')})", legend_of(by)
    )


def gauge(op: str, metric: str, by: str, legend: str = "") -> Query:
    """A gauge aggregated with `op` by the `by` labels; the legend defaults to their values."""
    return Query(aggregate(op, selected(metric), by), legend or legend_of(by))


def age(timestamp: str, by: str) -> Query:
    """Seconds since the newest value of a Unix-timestamp gauge, per `by` label."""
    return Query(f"time() - {aggregate('max', selected(timestamp), by)}", legend_of(by))


@dataclass(frozen=True)
class Board:
    """A dashboard: rows of panels, scoped to the scrape jobs matched by job_regex."""

    uid: str
    title: str
    description: str
    job_regex: str
    rows: tuple[tuple[str, tuple[Panel, ...]], ...]

    def queries(self) -> list[str]:
        """Every PromQL expression of the board, variables included (for the parse and metrics tests)."""
        out = [q.expr for _, panels in self.rows for p in panels for q in p.queries]
        return [*out, f'up{{job=~"{self.job_regex}"}}']

    def build(self) -> Any:
        """The grafana-foundation-sdk dashboard model."""
        board = (
            gd.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(["maestro"])
            .editable()
            .refresh("1m")
            .time("now-6h", "now")
            .timezone("utc")
            .with_variable(
                gd.DatasourceVariable("datasource")
                .label("Data source")
                .type("prometheus")
                .current(VariableOption(selected=True, text="Prometheus", value="prometheus"))
            )
            .with_variable(self._label_variable("job", f'up{{job=~"{self.job_regex}"}}'))
            .with_variable(self._label_variable("instance", 'up{job=~"$job"}'))
        )
        for title, panels in self.rows:
            board = board.with_row(gd.Row(title))
            for p in panels:
                board = board.with_panel(_panel(p))
        return board.build()

    @staticmethod
    def _label_variable(label: str, selector: str) -> gd.QueryVariable:
        return (
            gd.QueryVariable(label)
            .label(label.capitalize())
            .datasource(DS)
            .query(f"label_values({selector}, {label})")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(VariableOption(selected=True, text="All", value="$__all"))
        )

    def to_json(self) -> str:
        """Stable JSON text of the dashboard (what `make dashboards` writes)."""
        return json.dumps(self.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def _panel(p: Panel) -> Any:
    builder: Any = timeseries.Panel() if p.kind == "timeseries" else stat.Panel()
    builder = builder.title(p.title).description(p.description).unit(p.unit).datasource(DS).span(p.width)
    builder = builder.height(p.height)
    for i, q in enumerate(p.queries):
        target = prometheus.Dataquery().expr(q.expr).ref_id(chr(ord("A") + i)).datasource(DS)
        if q.legend:
            target = target.legend_format(q.legend)
        builder = builder.with_target(target)
    return builder
