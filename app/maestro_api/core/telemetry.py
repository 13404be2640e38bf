"""Traces (OpenTelemetry over OTLP/HTTP when ``MAESTRO_OTLP_ENDPOINT`` is set) and JSON logs carrying the
current trace and request ids."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime

import orjson
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from maestro_api.core.config import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("maestro_request_id", default=None)


def create_tracer_provider(settings: Settings, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP to ``otlp_endpoint`` (or to ``exporter``); None when neither is set.

    The provider is kept on the app rather than installed globally, so several apps (tests) do not fight over
    OpenTelemetry's one-shot global."""
    if exporter is None and not settings.otlp_endpoint:
        return None
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=5)
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace_id/span_id, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            doc["trace_id"] = format(ctx.trace_id, "032x")
            doc["span_id"] = format(ctx.span_id, "016x")
        request_id = request_id_var.get()
        if request_id:
            doc["request_id"] = request_id
        for key in ("method", "route", "status", "duration_ms"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


def configure_logging(settings: Settings) -> None:
    """JSON logs to stderr for the service's loggers (idempotent)."""
    logger = logging.getLogger("maestro_api")
    logger.setLevel(settings.log_level.upper())
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
