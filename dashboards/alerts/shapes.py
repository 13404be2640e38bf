"""The alert conditions several parts share. Each builds a `Condition` (the expression and the series under which
it holds) from one metric and one target, so the promtool test feeds exactly the series the rule reads:

- state:    a gauge of one target in a bad state (down, not leader, reload failed, ...);
- counter:  events a counter counts over a window (failures, rejections, rate of errors), per target or summed;
- quantile: the 99th percentile of a histogram, per job and one more label, above a threshold;
- age:      the newest success timestamp of a cluster's job is too old.

An expression of its own over series of one target takes `on_target` for the test side; anything else writes its
Condition by hand (`ratio` helps with the "part / whole" expressions).
"""

from __future__ import annotations

from collections.abc import Mapping

from dashboards.alerts._helpers import Target
from dashboards.model import Condition


def _selector(target: Target, metric: str, match: str) -> str:
    return f"{metric}{{{target.match}{', ' if match else ''}{match}}}"


def state(
    target: Target,
    metric: str,
    test: str,
    *,
    values: str = "0x10",
    labels: Mapping[str, str] | None = None,
    match: str = "",
    fn: str = "",
) -> Condition:
    """`metric` (through `fn`, e.g. abs) of each of the job's targets `test`s true: 'up{job=~"x"} == 0'.

    The scenario: the target's series with `labels` (also on the alert) take `values` from the start.
    `match` adds matchers to the rule's selector."""
    selector, labels = _selector(target, metric, match), labels or {}
    return Condition(
        expr=f"{fn}({selector}) {test}" if fn else f"{selector} {test}",
        series={target.series(metric, **labels): values},
        labels={**target.labels, **labels},
    )


def counter(
    target: Target,
    metric: str,
    window: str,
    test: str,
    *,
    values: str,
    onset: str = "1m",
    fn: str = "increase",
    by: tuple[str, ...] = (),
    labels: Mapping[str, str] | None = None,
    match: str = "",
) -> Condition:
    """`fn` (increase or rate) of a counter over `window`, summed by the `by` labels (none: per series), `test`s
    true: 'sum by (job) (rate(x_total{job=~"y"}[5m])) > 1'.

    The scenario: the target's series with `labels` takes `values`; the alert carries the `by` labels, or all."""
    counted, labels = f"{fn}({_selector(target, metric, match)}[{window}])", labels or {}
    fired = {**target.labels, **labels}
    return Condition(
        expr=f"sum by ({', '.join(by)}) ({counted}) {test}" if by else f"{counted} {test}",
        series={target.series(metric, **labels): values},
        labels={k: fired[k] for k in by} if by else fired,
        onset=onset,
    )


def quantile(
    target: Target, histogram: str, by: str, threshold: float, *, buckets: Mapping[str, str], labels: Mapping[str, str]
) -> Condition:
    """The 99th percentile of a histogram per job and `by` over 5 minutes is above `threshold` (seconds).

    The scenario: the target's `_bucket` series with `labels`, one per upper bound in `buckets` (le -> values)."""
    return Condition(
        expr=(
            "histogram_quantile(0.99,\n"
            f"  sum by (job, {by}, le) (rate({histogram}_bucket{{{target.match}}}[5m]))\n"
            f") > {threshold}"
        ),
        series={target.series(f"{histogram}_bucket", **labels, le=le): values for le, values in buckets.items()},
        labels={"job": target.labels["job"], by: labels[by]},
        onset="1m",
    )


def age(
    target: Target,
    timestamp: str,
    threshold: int,
    *,
    values: str,
    labels: Mapping[str, str] | None = None,
    match: str = "",
) -> Condition:
    """The newest value of a Unix-timestamp gauge of the target's cluster is more than `threshold` seconds old.

    The scenario: the target's series with `labels` takes `values` (negative: seconds before the epoch the test
    starts at); the alert carries the cluster."""
    return Condition(
        expr=f"time() - max by (cluster) ({_selector(target, timestamp, match)})\n  > {threshold}",
        series={target.series(timestamp, **(labels or {})): values},
        labels={"cluster": target.labels["cluster"]},
    )


def on_target(
    target: Target,
    expr: str,
    values: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    onset: str = "0m",
) -> Condition:
    """A hand-written expression over metrics of one target: in the test each metric in `values` is one series of
    the target (with `labels`) taking its values, and the alert carries the target's labels (and `labels`)."""
    labels = labels or {}
    return Condition(
        expr=expr,
        series={target.series(metric, **labels): v for metric, v in values.items()},
        labels={**target.labels, **labels},
        onset=onset,
    )


def ratio(by: str, part: str, whole: str, test: str) -> str:
    """`part` / `whole`, each summed by the `by` labels, `test`ed: the expression of a share or a saturation."""
    return f"sum by ({by}) ({part})\n  / sum by ({by}) ({whole})\n  {test}"
