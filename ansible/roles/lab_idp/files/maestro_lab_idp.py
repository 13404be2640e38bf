"""The lab's identity provider: oidc-provider-mock (PyPI) with the lab's users, PKCE required, served over TLS.

oidc-provider-mock issues ID tokens with each user's claims (the Maestro tenant and role among them), signs them
with a key it makes at start, and publishes its discovery document and JWKS. It does not check PKCE, which real
providers do and the UI always sends, so ``PkceEnforcer`` in front of it does: an authorization request without an
S256 code challenge is refused, and the code it yields is only traded for tokens with the matching verifier.

Usage: ``maestro_lab_idp.py --config /etc/maestro-lab-idp/config.json`` with
``{"host": ..., "port": ..., "cert": ..., "key": ..., "users": [{"sub": ..., <claims>}, ...]}``
(cert and key may be omitted for plain HTTP on loopback, which the tests use).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _error(start_response: StartResponse, status: str, error: str, description: str) -> list[bytes]:
    body = json.dumps({"error": error, "error_description": description}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class PkceEnforcer:
    """WSGI middleware requiring RFC 7636 PKCE (S256) of every authorization code grant."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._challenges: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/authorize":
            return self._authorize(environ, start_response)
        if path == "/oauth2/token" and environ.get("REQUEST_METHOD") == "POST":
            return self._token(environ, start_response)
        return self.app(environ, start_response)

    def _authorize(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        challenge = query.get("code_challenge", [""])[0]
        if query.get("code_challenge_method", [""])[0] != "S256" or not challenge:
            return _error(start_response, "400 Bad Request", "invalid_request", "PKCE (S256) is required.")

        def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            for name, value in headers:
                if name.lower() == "location":
                    code = parse_qs(urlsplit(value).query).get("code", [""])[0]
                    if code:
                        with self._lock:
                            self._challenges[code] = challenge
            return start_response(status, headers, *args)

        return self.app(environ, remember)

    def _token(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        form = parse_qs(body.decode())
        if form.get("grant_type", [""])[0] == "authorization_code":
            code = form.get("code", [""])[0]
            with self._lock:
                challenge = self._challenges.pop(code, None)
            verifier = form.get("code_verifier", [""])[0]
            if challenge is None or not verifier or not hmac.compare_digest(s256(verifier), challenge):
                return _error(start_response, "400 Bad Request", "invalid_grant", "PKCE verification failed.")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _sign_with_key_id() -> None:
    """Name the signing key in each ID token's header (``kid``), as its JWKS does: oidc-provider-mock 0.3 leaves it
    out, and relying parties (the Maestro API among them) pick the verification key by it."""
    from oidc_provider_mock import _app

    plain = _app.OpenIDCode.get_jwt_config
    if getattr(plain, "maestro_kid", False):
        return

    def get_jwt_config(self: Any, grant: Any, client: Any = None) -> dict[str, Any]:
        config: dict[str, Any] = plain(self, grant, client)
        config["kid"] = config["key"]["kid"]
        return config

    get_jwt_config.maestro_kid = True  # type: ignore[attr-defined]
    _app.OpenIDCode.get_jwt_config = get_jwt_config  # type: ignore[method-assign]


def build_app(users: list[dict[str, Any]]) -> WsgiApp:
    """The provider with ``users`` (each a ``sub`` and its claims) predefined, nonce and PKCE required."""
    import oidc_provider_mock

    _sign_with_key_id()

    predefined = [
        oidc_provider_mock.User(sub=str(u["sub"]), claims={k: v for k, v in u.items() if k != "sub"}) for u in users
    ]
    provider = oidc_provider_mock.app(require_nonce=True, issue_refresh_token=False, user_claims=predefined)
    return PkceEnforcer(provider)


def main() -> None:
    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON: host, port, cert, key, users")
    config = json.loads(open(parser.parse_args().config).read())  # noqa: SIM115 - read once at start
    tls = (config["cert"], config["key"]) if config.get("cert") else None
    server = make_server(
        config["host"], int(config["port"]), build_app(config["users"]), threaded=True, ssl_context=tls
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
