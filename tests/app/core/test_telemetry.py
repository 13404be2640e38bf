"""Telemetry without servers: every metric of docs/interfaces.md exists, JSON log lines carry the trace id."""

import json
import logging
import re

from maestro_api import metrics
from maestro_api.core.telemetry import JsonFormatter, request_id_var
from opentelemetry.sdk.trace import TracerProvider

from maestro.paths import ROOT

INTERFACES = ROOT / "docs" / "interfaces.md"


def documented_api_metrics() -> dict[str, str]:
    text = INTERFACES.read_text().split("### Metrics the API exports", 1)[1].split("###", 1)[0]
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `(maestro_[a-z_]+)` \| ([^|]+) \|", text, re.M)}


def test_every_documented_metric_is_registered_with_its_type() -> None:
    documented = documented_api_metrics()
    assert len(documented) >= 16
    registered = {m.name: m.type for m in metrics.REGISTRY.collect()}
    for name, kind in documented.items():
        base = name.removesuffix("_total")
        assert base in registered, name
        assert kind.split(",")[0].strip() == registered[base], (name, kind, registered[base])


def test_latency_buckets_match_the_contract() -> None:
    assert metrics.LATENCY_BUCKETS == (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
    assert 0.25 in metrics.LATENCY_BUCKETS  # the SLO threshold is a bucket boundary


def test_json_log_lines_carry_trace_and_request_ids() -> None:
    tracer = TracerProvider().get_tracer("t")
    formatter = JsonFormatter()
    record = logging.LogRecord("maestro_api.x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    token = request_id_var.set("req-1")
    try:
        with tracer.start_as_current_span("s") as span:
            line = json.loads(formatter.format(record))
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello world" and line["level"] == "WARNING"
    assert line["trace_id"] == trace_id and line["request_id"] == "req-1"
    outside = json.loads(formatter.format(record))
    assert "trace_id" not in outside and "request_id" not in outside
