"""The lab's S3 endpoint: moto's server app behind TLS, as pgBackRest needs it.

pgBackRest speaks only HTTPS to S3, and `moto_server --ssl` breaks it: Werkzeug closes the connection
without a TLS close_notify, which pgBackRest refuses for most bodies. This launcher serves the same
WSGI app, sends close_notify (`unwrap`) before each close and sets TCP_NODELAY (otherwise every
request waits ~40 ms for delayed ACKs). moto keeps everything in memory: restarting it loses the
backups, which is fine for a lab that is rebuilt from scratch.

`up` starts it detached (the hidden command `maestro lab s3-server`) on the bridge's gateway address with the
certificate the lab CA signed for s3.maestro.lab, and creates the buckets; `down` stops it. The loopback DR drill
(tests/dr_loopback.py) serves the same app in a thread with `build_server`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import sys
from typing import TYPE_CHECKING, Any

from maestro.lab.pki import CA_FILE, PKI_DIR, ensure_secrets
from maestro.lab.system import pid_alive, spawn, stop_process, tcp_open, wait_until
from maestro.lab.topology import GATEWAY, LAB_DIR, S3_BUCKETS, S3_PORT
from maestro.paths import ROOT

if TYPE_CHECKING:
    from werkzeug.serving import ThreadedWSGIServer

PID_FILE = LAB_DIR / "state" / "s3.pid"


def build_server(host: str, port: int, cert: str, key: str) -> ThreadedWSGIServer:
    """Build a threaded HTTPS server for moto's S3 backend."""
    # Clients use path-style URIs on a host name (s3.maestro.lab): without this, moto would read the first label
    # of the name as a virtual-hosted bucket ("s3").
    os.environ.setdefault("S3_IGNORE_SUBDOMAIN_BUCKETNAME", "true")
    # moto (read that setting on import) and werkzeug come with the lab's tools, not with the operator CLI.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

    class CleanTLSHandler(WSGIRequestHandler):
        """A request handler that disables Nagle and ends TLS with close_notify."""

        def setup(self) -> None:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def finish(self) -> None:
            super().finish()
            conn: Any = self.request
            if isinstance(conn, ssl.SSLSocket):
                # The peer may already be gone; the socket is closed by the server either way.
                with contextlib.suppress(OSError, ssl.SSLError, ValueError):
                    conn.unwrap()

    # No fixed service: moto picks S3 from the request signature, whatever host name the client uses.
    app = DomainDispatcherApplication(create_backend_app)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ThreadedWSGIServer(host, port, app, handler=CleanTLSHandler, ssl_context=ctx)


def up() -> None:
    """Start the endpoint unless it runs, wait for its port, and create the lab's buckets that are missing."""
    if not pid_alive(PID_FILE):
        # The CLI's hidden command; its own process, so the endpoint outlives this `maestro lab up`.
        cmd = [sys.executable, "-m", "maestro", "lab", "s3-server", "--host", GATEWAY, "--port", str(S3_PORT)]
        cmd += ["--cert", str(PKI_DIR / "s3.crt"), "--key", str(PKI_DIR / "s3.key")]
        spawn(cmd, log=LAB_DIR / "state" / "s3.log", pid_file=PID_FILE, cwd=ROOT)
    wait_until(f"the S3 endpoint on {GATEWAY}:{S3_PORT}", lambda: tcp_open(GATEWAY, S3_PORT), 30)
    import boto3

    sec = ensure_secrets()
    s3 = boto3.client(
        "s3",
        endpoint_url=f"https://{GATEWAY}:{S3_PORT}",
        aws_access_key_id=sec["s3_access_key"],
        aws_secret_access_key=sec["s3_secret_key"],
        region_name="us-east-1",
        verify=str(CA_FILE),
    )
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in S3_BUCKETS:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)


def down() -> None:
    """Stop the endpoint (everything it held is gone with it)."""
    stop_process(PID_FILE, timeout=10)
