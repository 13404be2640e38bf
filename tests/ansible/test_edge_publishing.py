"""The edge (nginx_waf role, real nginx + ModSecurity on loopback) publishes only the API's paths, limits each client
before anything reaches the API, and streams artifact uploads: an unauthenticated one is refused without the edge
storing its body."""

from __future__ import annotations

import contextlib
import json
import math
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ansible.nginx_waf.corpus import CLIENT_HEADERS
from tests.ansible.nginx_waf.edge import SERVER_NAME, Edge, missing_prerequisites, running_edge

pytestmark = pytest.mark.servers

ARTIFACT = "/mlflow/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.bin"
GOOD = "Bearer good-key"


@dataclass
class Upstream:
    """A stand-in for the API: answers 401 at once, without reading a byte of the body, unless the request carries
    `Authorization: Bearer good-key`; then it reads the body and says how many bytes came and when the first did."""

    port: int = 0
    requests: list[dict[str, object]] = field(default_factory=list)

    def handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while True:
                line = reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                method, path, _ = line.decode("latin-1").split(" ", 2)
                record: dict[str, object] = {"method": method, "path": path, "received": 0, "first_byte": None}
                self.requests.append(record)
                if headers.get("authorization") != GOOD:
                    _answer(conn, 401, {"detail": "no credential"}, close=True)
                    return
                remaining = int(headers.get("content-length", "0"))
                while remaining:
                    chunk = reader.read1(min(remaining, 65536))
                    if not chunk:
                        return
                    if record["first_byte"] is None:
                        record["first_byte"] = time.monotonic()
                    record["received"] = int(str(record["received"])) + len(chunk)
                    remaining -= len(chunk)
                _answer(conn, 200, {"path": path, "received": record["received"]})


def _answer(conn: socket.socket, status: int, payload: dict[str, object], close: bool = False) -> None:
    body = json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    conn.sendall((head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body)


@contextlib.contextmanager
def upstream() -> Iterator[Upstream]:
    server = socket.create_server(("127.0.0.1", 0))
    up = Upstream(port=server.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=up.handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield up
    finally:
        server.close()


@contextlib.contextmanager
def edge_with(**overrides: object) -> Iterator[tuple[Edge, Upstream]]:
    missing = missing_prerequisites()
    if missing:
        pytest.fail(f"the edge tests need {', '.join(missing)}: run `make bootstrap-test`")
    with upstream() as up, running_edge(up.port, **overrides) as edge:
        yield edge, up


@pytest.fixture(scope="module")
def limited() -> Iterator[tuple[Edge, Upstream]]:
    """An edge with the per-client limits on for loopback (the WAF tests' edges exempt it)."""
    with edge_with(
        nginx_waf_client_limit_exempt=[],
        nginx_waf_client_rate=5,
        nginx_waf_client_burst=10,
        nginx_waf_client_connections=3,
    ) as pair:
        yield pair


@pytest.fixture(scope="module")
def exempt() -> Iterator[tuple[Edge, Upstream]]:
    with edge_with(nginx_waf_client_rate=5, nginx_waf_client_burst=10) as pair:
        yield pair


def _get(edge: Edge, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return edge.request("GET", path, headers={**CLIENT_HEADERS, "Authorization": GOOD, **headers})


# --- What the edge publishes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/models", "/mlflow/api/2.0/mlflow/experiments/search", ARTIFACT])
def test_the_api_paths_are_published(exempt: tuple[Edge, Upstream], path: str) -> None:
    edge, _ = exempt
    status, _, body = _get(edge, path)
    assert status == 200 and json.loads(body)["path"] == path


@pytest.mark.parametrize(
    "path", ["/metrics", "/readyz", "/healthz", "/docs", "/openapi.json", "/", "/v10/models", "/mlflowx"]
)
def test_everything_else_is_404_at_the_edge(exempt: tuple[Edge, Upstream], path: str) -> None:
    edge, up = exempt
    before = len(up.requests)
    status, headers, body = _get(edge, path)
    assert status == 404
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 404
    assert len(up.requests) == before, "the edge forwarded an unpublished path"


def test_the_load_balancer_health_path_answers_without_the_api(exempt: tuple[Edge, Upstream]) -> None:
    edge, up = exempt
    before = len(up.requests)
    status, _, body = _get(edge, "/edge-healthz")
    assert (status, body, len(up.requests)) == (200, b"ok\n", before)


# --- Per-client limits before authentication -----------------------------------------------------------------------


def test_past_the_rate_and_burst_a_client_gets_429(limited: tuple[Edge, Upstream]) -> None:
    edge, _ = limited
    time.sleep(2.5)  # let earlier tests' requests drain from the zone (5 r/s)
    started = time.monotonic()
    statuses = [edge.request("GET", "/v1/models", headers=dict(CLIENT_HEADERS)) for _ in range(25)]
    refilled = math.ceil(5 * (time.monotonic() - started))  # 5 r/s keep arriving while the loop runs
    codes = [s for s, _, _ in statuses]
    # 1 + burst (10) pass at once (each refused 401 by the API stand-in), plus what the rate refilled meanwhile;
    # the rest are refused by the edge.
    assert 11 <= codes.count(401) <= 11 + refilled and codes.count(429) == 25 - codes.count(401) > 0, codes
    _, headers, body = next(r for r in statuses if r[0] == 429)
    assert headers["content-type"] == "application/problem+json" and headers["retry-after"] == "1"
    assert json.loads(body)["status"] == 429
    assert "strict-transport-security" in headers and "x-request-id" in headers
    time.sleep(1.0)  # 5 r/s: the budget refills
    assert edge.request("GET", "/v1/models", headers=dict(CLIENT_HEADERS))[0] == 401


def test_an_exempt_address_is_not_limited(exempt: tuple[Edge, Upstream]) -> None:
    edge, _ = exempt
    codes = {edge.request("GET", "/v1/models", headers=dict(CLIENT_HEADERS))[0] for _ in range(40)}
    assert codes == {401}


def _open_upload(edge: Edge, path: str = ARTIFACT, length: int = 1 << 30, auth: str = GOOD) -> ssl.SSLSocket:
    """An upload that announces `length` bytes and has sent only its headers."""
    raw = socket.create_connection(("127.0.0.1", edge.https_port), timeout=10)
    tls = edge.tls_context().wrap_socket(raw, server_hostname=SERVER_NAME)
    tls.sendall(
        (
            f"PUT {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nUser-Agent: {CLIENT_HEADERS['User-Agent']}\r\n"
            f"Accept: */*\r\nAuthorization: {auth}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()
    )
    return tls


def test_past_the_connection_limit_a_client_gets_429(limited: tuple[Edge, Upstream]) -> None:
    edge, _ = limited
    time.sleep(2.5)
    held = [_open_upload(edge) for _ in range(3)]
    try:
        time.sleep(0.5)
        assert edge.request("GET", "/v1/models", headers=dict(CLIENT_HEADERS))[0] == 429
    finally:
        for conn in held:
            conn.close()
    time.sleep(2.5)
    assert edge.request("GET", "/v1/models", headers=dict(CLIENT_HEADERS))[0] == 401


# --- Artifact uploads are streamed, never stored --------------------------------------------------------------------


def _stored(edge: Edge) -> int:
    """Bytes of request bodies nginx holds in temporary files."""
    return sum(f.stat().st_size for f in (edge.root / "state" / "body").glob("**/*") if f.is_file())


def test_an_unauthenticated_upload_is_refused_before_the_edge_stores_it(exempt: tuple[Edge, Upstream]) -> None:
    edge, up = exempt
    conn = _open_upload(edge, auth="Bearer stolen-or-nothing")
    conn.settimeout(0.05)
    sent, answer, chunk = 0, b"", b"x" * 65536
    deadline = time.monotonic() + 20
    while not answer and time.monotonic() < deadline and sent < 64 << 20:
        with contextlib.suppress(TimeoutError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            conn.sendall(chunk)
            sent += len(chunk)
        with contextlib.suppress(TimeoutError, ssl.SSLWantReadError):
            answer = conn.recv(4096)
        assert _stored(edge) == 0
    conn.close()
    # The API's 401 came back after a few chunks of a 1 GiB upload; the edge wrote none of it to disk.
    assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
    assert sent < 8 << 20, f"{sent} bytes sent before the answer"
    assert up.requests[-1]["method"] == "PUT" and up.requests[-1]["received"] == 0


def test_an_upload_with_a_query_string_is_refused(exempt: tuple[Edge, Upstream]) -> None:
    # Uploads skip ModSecurity (see the role's site.conf): the edge lets nothing through that it would have read.
    edge, up = exempt
    before = len(up.requests)
    headers = {**CLIENT_HEADERS, "Authorization": GOOD, "Content-Type": "application/octet-stream"}
    status, _, _ = edge.request("PUT", ARTIFACT + "?note=%3Cscript%3E", body=b"weights", headers=headers)
    assert status == 400 and len(up.requests) == before
    status, _, body = edge.request("PUT", ARTIFACT, body=b"weights", headers=headers)
    assert status == 200 and json.loads(body)["received"] == len(b"weights")


def test_an_upload_reaches_the_api_while_it_is_still_being_sent(exempt: tuple[Edge, Upstream]) -> None:
    edge, up = exempt
    length = 3 * 1024 * 1024
    conn = _open_upload(edge, length=length)
    conn.sendall(b"a" * (1024 * 1024))
    deadline = time.monotonic() + 10
    while not (up.requests and up.requests[-1]["first_byte"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    # The first megabyte is at the API before the client has sent the rest: nothing is buffered in between.
    assert up.requests[-1]["first_byte"] is not None
    assert _stored(edge) == 0
    conn.sendall(b"b" * (2 * 1024 * 1024))
    reply = conn.recv(4096)
    conn.close()
    assert reply.startswith(b"HTTP/1.1 200") and json.loads(reply.split(b"\r\n\r\n", 1)[1])["received"] == length


def test_an_http2_upload_is_refused_without_being_stored(exempt: tuple[Edge, Upstream], tmp_path: Path) -> None:
    edge, up = exempt
    url = f"https://{SERVER_NAME}:{edge.https_port}{ARTIFACT}"
    curl = subprocess.Popen(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version} %{size_upload}",
            "--http2",
            "--cacert",
            str(edge.certificate),
            "--resolve",
            f"{SERVER_NAME}:{edge.https_port}:127.0.0.1",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            "@-",
            url,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=False,
    )
    assert curl.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        for _ in range(256):  # up to 256 MiB, stopped by the refusal
            curl.stdin.write(b"z" * (1 << 20))
            assert _stored(edge) == 0
    with contextlib.suppress(BrokenPipeError):
        curl.stdin.close()
    assert curl.stdout is not None and curl.wait(timeout=60) == 0
    code, version, uploaded = curl.stdout.read().decode().split()
    assert (code, version) == ("401", "2")
    assert int(uploaded) < 8 << 20
    assert up.requests[-1]["received"] == 0
