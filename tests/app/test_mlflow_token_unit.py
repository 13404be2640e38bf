"""MLflow's credential, without servers: the API's setting (refused as a placeholder outside dev), the header its two
MLflow clients send (the API's token, never the caller's), and the maestro-auth app's check in front of MLflow."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.mlflow_proxy.forward import MlflowForwarder
from maestro_api.registry.mlflow_client import MlflowClient
from maestro_mlflow_auth import BearerTokenASGI, BearerTokenWSGI, TokenError, authorized, read_token
from pydantic import SecretStr, ValidationError

from tests.app.conftest import PROD

TOKEN = "mlflow-token-" + "k" * 40


# --- The API's setting ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["change-me", "short-token", "x" * 31])
def test_outside_dev_a_weak_mlflow_token_is_refused_by_name(token: str) -> None:
    with pytest.raises(ValidationError, match="MAESTRO_MLFLOW_TOKEN") as caught:
        Settings(**PROD, mlflow_token=token)
    assert token not in str(caught.value).split("MAESTRO_MLFLOW_TOKEN", 1)[1]


def test_a_strong_mlflow_token_is_accepted_and_never_printed() -> None:
    s = Settings(**PROD, mlflow_token=TOKEN)
    assert s.mlflow_token is not None and s.mlflow_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(s) and TOKEN not in str(s.model_dump())


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAESTRO_MLFLOW_TOKEN", TOKEN)
    token = Settings().mlflow_token
    assert token is not None and token.get_secret_value() == TOKEN


# --- What the API sends to MLflow ----------------------------------------------------------------------------------


class Recorder:
    """An httpx transport that records each request's headers and answers like MLflow would."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        if request.method == "PUT":
            request.read()
        return httpx.Response(200, json={"ok": True}, headers={"content-type": "application/json"})


def test_the_registry_client_sends_the_api_token_on_every_call() -> None:
    recorder = Recorder()

    async def calls() -> None:
        client = MlflowClient(
            base_url="http://mlflow", timeout_seconds=1, transport=httpx.MockTransport(recorder), token=SecretStr(TOKEN)
        )
        await client.call("GET", "experiments/search", workspace="ws", operation="search")
        await client.health()
        await client.aclose()

    asyncio.run(calls())
    assert [h["authorization"] for h in recorder.headers] == [f"Bearer {TOKEN}"] * 2


def test_without_a_token_the_registry_client_sends_no_authorization() -> None:
    recorder = Recorder()

    async def calls() -> None:
        client = MlflowClient(base_url="http://mlflow", timeout_seconds=1, transport=httpx.MockTransport(recorder))
        await client.health()
        await client.aclose()

    asyncio.run(calls())
    assert "authorization" not in recorder.headers[0]


def test_the_proxy_sends_the_api_token_and_nothing_of_the_caller() -> None:
    recorder = Recorder()

    async def body() -> Any:
        yield b"artifact bytes"

    async def calls() -> None:
        forwarder = MlflowForwarder(
            base_url="http://mlflow", timeout_seconds=1, transport=httpx.MockTransport(recorder), token=SecretStr(TOKEN)
        )
        await forwarder.json_call(
            method="POST", path="/api/2.0/mlflow/runs/create", query="", body=b"{}", workspace="ws", route="r"
        )
        await forwarder.upload(path="1/a/artifacts/x.bin", body=body(), content_type=None, workspace="ws", route="r")
        response = await forwarder.download(path="1/a/artifacts/x.bin", workspace="ws", route="r")
        await response.body_iterator.aclose()  # type: ignore[attr-defined]
        await forwarder.aclose()

    asyncio.run(calls())
    assert len(recorder.headers) == 3
    for headers in recorder.headers:
        assert headers["authorization"] == f"Bearer {TOKEN}"
        assert headers["x-mlflow-workspace"] == "ws"
        # What httpx adds itself, plus the four the forwarder builds; no header of the caller's request.
        assert set(headers) <= {
            "authorization",
            "x-mlflow-workspace",
            "accept",
            "content-type",
            "content-length",
            "transfer-encoding",
            "host",
            "accept-encoding",
            "connection",
            "user-agent",
        }


# --- The maestro-auth app in front of MLflow -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),
        (None, False),
        ("", False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer", False),
    ],
)
def test_only_the_bearer_token_is_authorized(header: str | None, ok: bool) -> None:
    assert authorized(header, TOKEN.encode()) is ok


def test_the_token_must_be_set_and_long_enough() -> None:
    assert read_token({"MAESTRO_MLFLOW_TOKEN": TOKEN}) == TOKEN.encode()
    for environ in ({}, {"MAESTRO_MLFLOW_TOKEN": "short"}):
        with pytest.raises(TokenError, match="MAESTRO_MLFLOW_TOKEN must hold") as caught:
            read_token(environ)
        assert "short" not in str(caught.value)


def _wsgi(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(env)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"mlflow"]

    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=headers)

    body = b"".join(BearerTokenWSGI(app, TOKEN.encode())(environ, start_response))
    return answer["status"], answer["headers"], body, seen


def test_the_wsgi_wrapper_refuses_without_the_token_and_hides_it_from_mlflow() -> None:
    status, headers, body, seen = _wsgi({"PATH_INFO": "/api/2.0/mlflow/experiments/search"})
    assert status.startswith("401") and b"UNAUTHENTICATED" in body and seen == {}
    assert ("WWW-Authenticate", 'Bearer realm="mlflow"') in headers
    status, _, body, seen = _wsgi({"PATH_INFO": "/health", "HTTP_AUTHORIZATION": f"Bearer {TOKEN}"})
    assert status.startswith("200") and body == b"mlflow"
    assert "HTTP_AUTHORIZATION" not in seen


def _asgi(headers: list[tuple[bytes, bytes]], kind: str = "http") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    seen: dict[str, Any] = {}
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(BearerTokenASGI(app, TOKEN.encode())({"type": kind, "headers": headers}, receive, send))
    return sent, seen


def test_the_asgi_wrapper_refuses_without_the_token_and_hides_it_from_mlflow() -> None:
    sent, seen = _asgi([(b"authorization", b"Bearer wrong")])
    assert sent[0]["status"] == 401 and seen == {}
    sent, seen = _asgi([(b"authorization", f"Bearer {TOKEN}".encode()), (b"accept", b"*/*")])
    assert sent[0]["status"] == 200 and seen["headers"] == [(b"accept", b"*/*")]
    sent, seen = _asgi([], kind="websocket")
    assert sent == [{"type": "websocket.close", "code": 1008}] and seen == {}
    sent, seen = _asgi([], kind="lifespan")
    assert seen["type"] == "lifespan"
