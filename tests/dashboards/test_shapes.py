"""The shared alert conditions: the expression reads the job from config, the test series are the target's, and
the firing alert carries the target's labels (all of them, or those it is summed by)."""

from __future__ import annotations

import pytest

from dashboards.alerts._helpers import Target
from dashboards.alerts.shapes import age, counter, on_target, state

REDIS = Target("redis", "redis1:9121", "redis1")
BACKUP = Target("node", "db1:9100", "db1", {"cluster": "maestro"})


def test_target_labels_start_with_the_hosts_path_job_name() -> None:
    assert REDIS.match == 'job=~"redis|redis-exporter"'
    assert BACKUP.labels == {"job": "node", "instance": "db1:9100", "instance_name": "db1", "cluster": "maestro"}
    with pytest.raises(KeyError, match="unknown scrape job 'nope'"):
        _ = Target("nope", "x:1", "x").match


def test_state_fires_with_every_label_of_the_target() -> None:
    down = state(REDIS, "redis_up", "== 0", labels={"role": "master"})
    assert down.expr == 'redis_up{job=~"redis|redis-exporter"} == 0'
    assert down.series == {REDIS.series("redis_up", role="master"): "0x10"}
    assert down.labels == {**REDIS.labels, "role": "master"} and down.onset == "0m"


def test_a_summed_counter_fires_with_only_the_labels_it_is_summed_by() -> None:
    per_series = counter(REDIS, "redis_rejected_connections_total", "5m", "> 0", values="0+1x9")
    summed = counter(REDIS, "redis_rejected_connections_total", "5m", "> 0", values="0+1x9", fn="rate", by=("job",))
    assert per_series.labels == REDIS.labels
    assert summed.expr == 'sum by (job) (rate(redis_rejected_connections_total{job=~"redis|redis-exporter"}[5m])) > 0'
    assert summed.labels == {"job": "redis"}


def test_age_fires_per_cluster() -> None:
    stale = age(BACKUP, "maestro_x_timestamp_seconds", 60, values="-100x9", match='type="full"')
    assert (
        stale.expr
        == 'time() - max by (cluster) (maestro_x_timestamp_seconds{job=~"node|node-exporter", type="full"})\n  > 60'
    )
    assert stale.labels == {"cluster": "maestro"}


def test_on_target_feeds_each_metric_as_one_series_of_the_target() -> None:
    when = on_target(REDIS, "a / b > 1", {"a": "2x9", "b": "1x9"}, labels={"db": "0"}, onset="1m")
    assert when.series == {REDIS.series("a", db="0"): "2x9", REDIS.series("b", db="0"): "1x9"}
    assert when.labels == {**REDIS.labels, "db": "0"} and (when.expr, when.onset) == ("a / b > 1", "1m")
