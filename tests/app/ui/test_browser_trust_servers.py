"""Chromium trusts exactly the CA it is given (``chromium(trust=...)``): a page under that CA loads as a valid site
and its immutable script comes from the cache on the next visit; the same page is refused by a browser that was given
no CA. A throwaway CA and an HTTPS server on loopback; Debian's Chromium."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.app.ui.browser import chromium

pytestmark = [pytest.mark.servers]

PAGE = b"<html><body><script src='/app.js'></script></body></html>"
SCRIPT = b"document.body.dataset.ran = 'yes';"


NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
"""openssl req's arguments for a new P-256 key without a passphrase."""


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def ca_and_site(tmp_path: Path) -> Iterator[tuple[Path, str, list[str]]]:
    """A throwaway CA, a server certificate for localhost signed by it, and an HTTPS server that logs each path."""
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.crt", "s.key", "s.csr", "s.crt"))
    _openssl(
        "req",
        "-x509",
        *NEW_KEY,
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "1",
        "-subj",
        "/CN=maestro test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    )
    _openssl(
        "req",
        *NEW_KEY,
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=localhost",
    )
    extensions = tmp_path / "ext.cnf"
    extensions.write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "1",
        "-extfile",
        str(extensions),
    )
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            body, kind = (SCRIPT, "text/javascript") if self.path == "/app.js" else (PAGE, "text/html")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if self.path == "/app.js":
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield ca, f"https://localhost:{server.server_address[1]}/", served
    finally:
        server.shutdown()
        server.server_close()


def test_a_trusted_ca_makes_the_site_valid_and_cached(ca_and_site: tuple[Path, str, list[str]]) -> None:
    ca, url, served = ca_and_site
    with chromium(trust=ca) as browser:
        page = browser.new_context().new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ran='yes']")
        page.goto(url)
        page.wait_for_selector("body[data-ran='yes']")
    assert served.count("/") == 2
    assert served.count("/app.js") == 1  # the second visit ran the script from the cache


def test_without_the_ca_the_site_is_refused(ca_and_site: tuple[Path, str, list[str]]) -> None:
    _, url, _ = ca_and_site
    with chromium() as browser, pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
        browser.new_context().new_page().goto(url)
