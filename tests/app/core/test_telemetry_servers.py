"""Telemetry on the real stack: /metrics, /healthz, /readyz, and spans exported over OTLP/HTTP to a receiver
running in this process on loopback (protobuf decoded with opentelemetry-proto)."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.metrics import REGISTRY
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import SecretStr

from tests.app.conftest import app_client, auth, bootstrap, readiness
from tests.app.core.test_telemetry import documented_api_metrics

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def test_metrics_endpoint_exposes_the_contract(api_settings: Settings, client: httpx.AsyncClient) -> None:
    key = await bootstrap(api_settings, "acme")
    await client.get("/v1/roles", headers=auth(key))
    await client.get("/v1/roles")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name in documented_api_metrics():
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'maestro_http_requests_total{method="GET",route="/v1/roles",status="200"}' in text
    assert 'maestro_auth_failures_total{reason="missing"}' in text
    assert 'maestro_db_pool_connections{state="idle"}' in text
    assert "maestro_db_pool_size 10.0" in text
    assert 'maestro_audit_events_total{outcome="success"}' in text


async def test_metrics_need_the_token_when_it_is_set(api_settings: Settings) -> None:
    token = "metrics-" + "t" * 40
    settings = api_settings.model_copy(update={"metrics_token": SecretStr(token)})
    before = REGISTRY.get_sample_value("maestro_auth_failures_total", {"reason": "metrics_token"}) or 0.0
    async with app_client(settings) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            r = await c.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="maestro-metrics"'
            assert "maestro_" not in r.text
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "maestro_http_requests_total" in r.text
    assert REGISTRY.get_sample_value("maestro_auth_failures_total", {"reason": "metrics_token"}) == before + 3


async def test_health_endpoints_answer_a_status_and_nothing_else(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    # No MLflow here: not ready; which check failed is in the metric and the log, never in the answer.
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json() == {"status": "not ready"}
    assert "mlflow" not in ready.text and "Error" not in ready.text
    assert (readiness("database"), readiness("redis"), readiness("mlflow")) == (1, 1, 0)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.event = threading.Event()


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                msg = ExportTraceServiceRequest()
                msg.ParseFromString(body)
                receiver.requests.append(msg)
                receiver.event.set()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", receiver
    server.shutdown()
    server.server_close()


async def test_spans_are_exported_over_otlp_with_route_and_parent(
    api_settings: Settings, otlp_receiver: tuple[str, Receiver]
) -> None:
    endpoint, receiver = otlp_receiver
    settings = api_settings.model_copy(update={"otlp_endpoint": endpoint})
    key = await bootstrap(settings, "acme")
    parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with app_client(settings) as c:
        r = await c.get("/v1/roles", headers={**auth(key), "traceparent": f"00-{parent_trace}-00f067aa0ba902b7-01"})
        assert r.status_code == 200
    # Leaving the app flushes the batch processor.
    assert receiver.event.wait(10)
    spans = [s for req in receiver.requests for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    names = {s.name for s in spans}
    assert "GET /v1/roles" in names
    span = next(s for s in spans if s.name == "GET /v1/roles")
    assert span.trace_id.hex() == parent_trace
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["http.route"].string_value == "/v1/roles"
    assert attrs["http.response.status_code"].int_value == 200
    resource = receiver.requests[0].resource_spans[0].resource
    assert any(a.key == "service.name" and a.value.string_value == "maestro-api" for a in resource.attributes)


async def test_no_endpoint_means_no_tracer(client: httpx.AsyncClient) -> None:
    assert client.app.state.tracer_provider is None  # type: ignore[attr-defined]
