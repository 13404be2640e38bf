"""The API refuses an unauthenticated artifact upload before it reads a byte of the body: the edge streams uploads
unbuffered (nginx_waf role), so this is what keeps an anonymous client from pushing gigabytes through."""

from __future__ import annotations

from typing import Any

import pytest
from maestro_api.core.config import Settings

from tests.app.conftest import app_client, bootstrap

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

PATH = "/mlflow/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.bin"
CHUNK = b"\0" * 65536


async def _upload(app: Any, authorization: bytes | None) -> tuple[int, int]:
    """PUT a 1 GiB upload straight into the ASGI app; returns its status and how many body chunks it read."""
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": CHUNK, "more_body": read < 16}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    headers = [
        (b"host", b"testserver"),
        (b"content-type", b"application/octet-stream"),
        (b"content-length", b"1073741824"),
    ]
    if authorization is not None:
        headers.append((b"authorization", authorization))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.9", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, read


@pytest.mark.parametrize("authorization", [None, b"Bearer not-a-key", b"Basic bWU6cGFzcw=="])
async def test_an_unauthenticated_upload_is_refused_unread(api_settings: Settings, authorization: bytes | None) -> None:
    async with app_client(api_settings) as client:
        status, read = await _upload(client.app, authorization)  # type: ignore[attr-defined]
    assert status == 401
    assert read == 0


async def test_a_viewer_upload_is_refused_unread(api_settings: Settings) -> None:
    # Authenticated but not allowed to write artifacts: refused before the body too.
    key = await bootstrap(api_settings, "viewers", role="viewer")
    async with app_client(api_settings) as client:
        status, read = await _upload(client.app, f"Bearer {key}".encode())  # type: ignore[attr-defined]
    assert status == 403
    assert read == 0
