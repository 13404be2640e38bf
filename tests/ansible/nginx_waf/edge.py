"""Run the nginx_waf role's own configuration on loopback: rendered by Ansible, served by Debian's nginx.

Nothing here writes outside a scratch directory: the role is applied to localhost with every path variable pointed
into that directory and `nginx_waf_manage_service: false`, then nginx runs in the foreground with `-p/-c/-e` on
127.0.0.1 and free ports. The same helpers serve the role's tests (this directory) and the benchmark (bench/waf.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.ansible.roles import ANSIBLE_PLAYBOOK, run_playbook
from tests.servers import free_port

RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render.yml"
NGINX = Path("/usr/sbin/nginx")
SERVER_NAME = "maestro.test"
# Debian packages the WAF tests and benchmark need (scripts/bootstrap.sh, test group).
DEBIAN_PACKAGES = ("nginx", "libnginx-mod-http-modsecurity", "modsecurity-crs", "wrk")


def missing_prerequisites() -> list[str]:
    """What is missing on this machine to run the edge (empty when everything is there)."""
    missing = [str(p) for p in (NGINX, ANSIBLE_PLAYBOOK) if not p.exists()]
    if not Path("/usr/share/modsecurity-crs/rules").is_dir():
        missing.append("modsecurity-crs")
    if not Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so").exists():
        missing.append("libnginx-mod-http-modsecurity")
    return missing


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# --- The upstream: a tiny echo service standing in for the Maestro API -------------------------------------------


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every method with a JSON description of what reached it (so tests see what the WAF let through).

    A request header `X-Echo-Status: <code>` sets the status of the answer, standing in for the API's own refusals
    (an RBAC 403, a 500).
    """

    protocol_version = "HTTP/1.1"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
        ).encode()
        self.send_response(int(self.headers.get("X-Echo-Status") or 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # http.server dispatches on do_<METHOD> names.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _echo  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def echo_upstream() -> Iterator[int]:
    """An echo server on 127.0.0.1 in a thread; yields its port and always shuts it down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="waf-echo-upstream", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# --- Rendering the role and running nginx ------------------------------------------------------------------------


@dataclass
class Edge:
    """A running nginx with the role's configuration."""

    root: Path
    https_port: int
    http_port: int
    upstream_port: int
    process: subprocess.Popen[bytes] | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)

    @property
    def certificate(self) -> Path:
        return self.root / "tls" / "fullchain.pem"

    @property
    def audit_log(self) -> Path:
        return self.root / "log" / "modsec_audit.json"

    @property
    def error_log(self) -> Path:
        return self.root / "log" / "error.log"

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def metrics_access_log(self) -> Path:
        """The access log the WAF log tailer counts requests in (nginx_waf_metrics_access_log_path)."""
        return self.root / "log" / "waf-requests.log"

    @property
    def metrics_state_dir(self) -> Path:
        return self.root / "waf-metrics"

    @property
    def metrics_unit(self) -> Path:
        """The rendered systemd service of the WAF log tailer."""
        return self.root / "systemd" / "maestro-waf-metrics.service"

    def tls_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly the edge's (self-signed) certificate."""
        ctx = ssl.create_default_context(cafile=str(self.certificate))
        ctx.check_hostname = False  # the certificate names maestro.test; the tests connect to 127.0.0.1
        return ctx

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTPS request on a fresh connection; returns status, headers (lower-case names) and body."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.tls_context(), timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            all_headers = {"Host": SERVER_NAME, **(headers or {})}
            if body is not None and "Transfer-Encoding" not in all_headers:
                all_headers.setdefault("Content-Length", str(len(body)))
            for name, value in all_headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


def render(root: Path, *, upstream_port: int, https_port: int, http_port: int, **overrides: Any) -> dict[str, Any]:
    """Apply the nginx_waf role to localhost with every path under `root`; returns the variables used."""
    variables: dict[str, Any] = {
        "nginx_waf_upstream_hosts": ["127.0.0.1"],
        "nginx_waf_upstream_port": upstream_port,
        "nginx_waf_server_name": SERVER_NAME,
        "nginx_waf_listen_address": "127.0.0.1",
        "nginx_waf_https_port": https_port,
        "nginx_waf_http_port": http_port,
        "nginx_waf_tls_self_signed": True,
        "nginx_waf_config_dir": str(root / "etc"),
        "nginx_waf_log_dir": str(root / "log"),
        "nginx_waf_audit_log_path": str(root / "log" / "modsec_audit.json"),
        "nginx_waf_modsecurity_data_dir": str(root / "modsecurity"),
        "nginx_waf_state_dir": str(root / "state"),
        "nginx_waf_pid_file": str(root / "nginx.pid"),
        "nginx_waf_tls_dir": str(root / "tls"),
        "nginx_waf_logrotate_dir": str(root / "etc"),
        "nginx_waf_manage_service": False,
        "nginx_waf_metrics_access_log_path": str(root / "log" / "waf-requests.log"),
        "nginx_waf_metrics_state_dir": str(root / "waf-metrics"),
        "nginx_waf_metrics_textfile_dir": str(root / "textfile"),
        "nginx_waf_metrics_script_path": str(root / "bin" / "maestro-waf-metrics"),
        "nginx_waf_metrics_systemd_dir": str(root / "systemd"),
        # The corpus and the benchmark send from one address as fast as they can: the per-client limits would
        # answer 429 (tests/ansible/test_edge_publishing.py tests them).
        "nginx_waf_client_limit_exempt": ["127.0.0.1"],
        **overrides,
    }
    # Directories that exist on every Debian host (/usr/local/bin, /etc/systemd/system); the role does not create them.
    for directory in ("etc", "bin", "systemd"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    vars_file = root / "render-vars.json"
    vars_file.write_text(json.dumps(variables))
    result = run_playbook(RENDER_PLAYBOOK, "localhost,", vars_file, cwd=root, timeout=600)
    (root / "render.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"rendering the nginx_waf role failed ({root / 'render.log'}):\n{result.stdout[-4000:]}")
    return variables


@contextlib.contextmanager
def running_edge(upstream_port: int, **overrides: Any) -> Iterator[Edge]:
    """Render the role into a scratch directory, run nginx on it, always stop nginx and remove the directory."""
    # World-traversable scratch dir: the nginx workers run as www-data, as in production.
    root = Path(tempfile.mkdtemp(prefix="maestro-waf-"))
    root.chmod(0o755)
    edge = Edge(root=root, https_port=free_port(), http_port=free_port(), upstream_port=upstream_port)
    try:
        edge.extra_vars = render(
            root, upstream_port=upstream_port, https_port=edge.https_port, http_port=edge.http_port, **overrides
        )
        conf = root / "etc" / "nginx.conf"
        edge.process = subprocess.Popen(
            [str(NGINX), "-p", str(root), "-c", str(conf), "-e", str(edge.error_log), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for_port(edge.https_port)
            wait_for_port(edge.http_port)
        except TimeoutError as exc:
            raise RuntimeError(f"nginx did not start: {edge.error_log.read_text(errors='replace')[-3000:]}") from exc
        yield edge
    finally:
        if edge.process is not None and edge.process.poll() is None:
            edge.process.send_signal(signal.SIGTERM)  # fast shutdown of the master and its workers
            try:
                edge.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(edge.process.pid, signal.SIGKILL)
                edge.process.wait(timeout=10)
        if os.environ.get("MAESTRO_WAF_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
