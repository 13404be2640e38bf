"""The lab's S3 endpoint: moto's server app behind TLS, as pgBackRest needs it.

pgBackRest speaks only HTTPS to S3, and `moto_server --ssl` breaks it: Werkzeug closes the connection
without a TLS close_notify, which pgBackRest refuses for most bodies. This launcher serves the same
WSGI app, sends close_notify (`unwrap`) before each close and sets TCP_NODELAY (otherwise every
request waits ~40 ms for delayed ACKs). moto keeps everything in memory: restarting it loses the
backups, which is fine for a lab that is rebuilt from scratch.

Run: python -m maestro.lab_s3 --host 10.77.41.1 --port 9443 --cert CERT --key KEY
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import ssl
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler


class _CleanTLSHandler(WSGIRequestHandler):
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


def build_server(host: str, port: int, cert: str, key: str) -> ThreadedWSGIServer:
    """Build a threaded HTTPS server for moto's S3 backend."""
    # Clients use path-style URIs on a host name (s3.maestro.lab): without this, moto would read the first label
    # of the name as a virtual-hosted bucket ("s3").
    os.environ.setdefault("S3_IGNORE_SUBDOMAIN_BUCKETNAME", "true")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # No fixed service: moto picks S3 from the request signature, whatever host name the client uses.
    app = DomainDispatcherApplication(create_backend_app)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ThreadedWSGIServer(host, port, app, handler=_CleanTLSHandler, ssl_context=ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    build_server(args.host, args.port, args.cert, args.key).serve_forever()


if __name__ == "__main__":
    main()
