"""HTTP hygiene without servers: security headers, request ids, problem+json, body limit, unknown fields, 500s."""

import httpx
import pytest
from fastapi import FastAPI
from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError
from maestro_api.main import create_app
from maestro_api.schemas import Schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Thing(Schema):
    name: str


def build() -> FastAPI:
    app = create_app(Settings(max_body_bytes=2048))

    async def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    async def things(body: Thing) -> Thing:
        return body

    async def gone() -> None:
        raise ProblemError(410, "Gone", "It went away.")

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/things", things, methods=["POST"])
    app.add_api_route("/test/gone", gone)
    return app


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://t")


def assert_problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert r.headers["x-request-id"]
    return body  # type: ignore[no-any-return]


async def test_security_headers_and_request_id_on_every_response() -> None:
    async with client() as c:
        for path in ("/healthz", "/nowhere", "/test/boom"):
            r = await c.get(path)
            h = r.headers
            assert h["strict-transport-security"].startswith("max-age=")
            assert "default-src 'none'" in h["content-security-policy"]
            assert "frame-ancestors 'none'" in h["content-security-policy"]
            assert h["x-content-type-options"] == "nosniff"
            assert h["x-frame-options"] == "DENY"
            assert h["referrer-policy"] == "no-referrer"
            assert "camera=()" in h["permissions-policy"]
            assert h["cross-origin-opener-policy"] == "same-origin"
            assert h["cross-origin-resource-policy"] == "same-origin"
            assert len(h["x-request-id"]) >= 16


async def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced() -> None:
    async with client() as c:
        assert (await c.get("/healthz", headers={"X-Request-ID": "abc-123"})).headers["x-request-id"] == "abc-123"
        r = await c.get("/healthz", headers={"X-Request-ID": "bad id\twith<script>"})
        assert r.headers["x-request-id"] != "bad id\twith<script>"


async def test_unknown_route_is_a_problem() -> None:
    async with client() as c:
        assert_problem(await c.get("/nowhere"), 404)
        assert_problem(await c.delete("/healthz"), 405)


async def test_problem_error_is_rendered() -> None:
    async with client() as c:
        body = assert_problem(await c.get("/test/gone"), 410)
        assert body["detail"] == "It went away." and body["instance"] == "/test/gone"


async def test_crash_is_a_500_problem_without_internals() -> None:
    async with client() as c:
        r = await c.get("/test/boom")
        body = assert_problem(r, 500)
        assert "secret internals" not in r.text and "Traceback" not in r.text and "passwd" not in r.text
        assert "request id" in str(body["detail"])


async def test_unknown_fields_are_rejected_and_input_not_echoed() -> None:
    async with client() as c:
        assert (await c.post("/test/things", json={"name": "a"})).status_code == 200
        r = await c.post("/test/things", json={"name": "a", "is_admin": "sneaky-value"})
        body = assert_problem(r, 422)
        assert any(e["loc"][-1] == "is_admin" for e in body["errors"])  # type: ignore[attr-defined]
        assert "sneaky-value" not in r.text


async def test_body_size_limit_by_header_and_by_stream() -> None:
    async with client() as c:
        assert_problem(
            await c.post("/test/things", content=b"x" * 4096, headers={"content-type": "application/json"}), 413
        )

        async def chunks():  # no Content-Length: counted while streaming
            for _ in range(4):
                yield b"x" * 1024

        r = await c.post("/test/things", content=chunks(), headers={"content-type": "application/json"})
        assert_problem(r, 413)
        ok = await c.post(
            "/test/things", content=b'{"name": "' + b"y" * 1000 + b'"}', headers={"content-type": "application/json"}
        )
        assert ok.status_code == 200


async def test_metrics_use_the_route_template_not_the_path() -> None:
    from maestro_api.metrics import REGISTRY

    async with client() as c:
        await c.get("/nowhere/12345")
        await c.get("/healthz")
    assert REGISTRY.get_sample_value(
        "maestro_http_requests_total", {"method": "GET", "route": "/healthz", "status": "200"}
    )
    assert REGISTRY.get_sample_value(
        "maestro_http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"}
    )
    assert (
        REGISTRY.get_sample_value(
            "maestro_http_requests_total", {"method": "GET", "route": "/nowhere/12345", "status": "404"}
        )
        is None
    )


async def test_only_the_artifact_upload_route_is_exempt_from_the_body_limit() -> None:
    big = b"x" * 4096
    app = build()
    # The lifespan creates the clients without connecting to anything; authentication refuses before any I/O.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        # The upload route bounds its own body (mlflow_proxy_max_artifact_bytes): the core limit lets it through
        # to authentication, which refuses it without reading the body.
        r = await c.put("/mlflow/api/2.0/mlflow-artifacts/artifacts/run/model.pkl", content=big)
        assert r.status_code == 401
        # Every other method or path, including near misses, keeps the core limit.
        for method, path in (
            ("POST", "/mlflow/api/2.0/mlflow-artifacts/artifacts/run/model.pkl"),
            ("PUT", "/mlflow/api/2.0/mlflow-artifacts/artifacts"),
            ("PUT", "/mlflow/api/2.0/mlflow-artifacts/artifactsx/run"),
            ("PUT", "/mlflow/api/2.0/mlflow/runs/log-batch"),
            ("PUT", "/v1/models/m/tags/k"),
        ):
            assert_problem(await c.request(method, path, content=big), 413)
