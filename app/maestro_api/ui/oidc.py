"""The UI's OIDC relying party: the authorization code flow with PKCE, state and nonce against MAESTRO_OIDC_ISSUER.

1. ``authorization_url`` sends the browser to the provider's authorization endpoint (found in its discovery document,
   ``<issuer>/.well-known/openid-configuration``) with a fresh ``state``, ``nonce`` and an S256 PKCE challenge.
2. The provider sends the browser back to ``<MAESTRO_UI_ORIGIN>/mlflow/oauth/callback`` with a code;
   ``exchange`` trades it at the token endpoint with the PKCE verifier (and the client secret, if the client has
   one) and verifies the ID token with the API's own verifier (``core.security.OidcVerifier``: the issuer's JWKS,
   allow-listed algorithms, ``iss``, ``exp``, ``sub``), its audience being the UI's client id, then its ``nonce``.

The claims it returns are turned into a principal by the same function as a bearer token's
(``Authenticator.principal_from_claims``). Every failure is a 401 with a fixed sentence; the provider's own error
texts are not shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError
from maestro_api.core.security import OidcVerifier, unauthorized

CALLBACK_PATH = "/mlflow/oauth/callback"
_DISCOVERY_SECONDS = 3600.0


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _provider_unavailable() -> ProblemError:
    return ProblemError(503, "Service Unavailable", "The identity provider cannot be reached; retry shortly.")


@dataclass(frozen=True)
class LoginRequest:
    """A sign-in about to be sent: where to send the browser, and what the callback must match."""

    url: str
    state: str
    nonce: str
    verifier: str


class RelyingParty:
    """The UI's client at the identity provider.

    Args:
        settings: the API's settings (issuer, JWKS, claims, the UI's client and origin).
        http: the API's HTTP client (TLS verified).
    """

    def __init__(self, *, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.oidc_issuer and settings.ui_oidc_client_id and settings.ui_origin
        self._issuer = settings.oidc_issuer.rstrip("/")
        self._client_id = settings.ui_oidc_client_id
        self._secret = settings.ui_oidc_client_secret
        self._scopes = settings.ui_oidc_scopes
        self.redirect_uri = settings.ui_origin.rstrip("/") + CALLBACK_PATH
        self._http = http
        # ID tokens are verified exactly as the API's bearer tokens, except for their audience: this client.
        self._verifier = OidcVerifier(
            settings=settings.model_copy(update={"oidc_audience": self._client_id}), http=http
        )
        self._discovery: dict[str, Any] = {}
        self._discovered_at = -1e9

    async def _endpoint(self, name: str) -> str:
        now = time.monotonic()
        if now - self._discovered_at > _DISCOVERY_SECONDS:
            try:
                r = await self._http.get(self._issuer + "/.well-known/openid-configuration", timeout=5.0)
                r.raise_for_status()
                document = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                if not self._discovery:
                    raise _provider_unavailable() from exc
            else:
                if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != self._issuer:
                    raise ProblemError(
                        502, "Bad Gateway", "The identity provider's discovery document names another issuer."
                    )
                self._discovery, self._discovered_at = document, now
        value = self._discovery.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise ProblemError(502, "Bad Gateway", f"The identity provider's discovery document lacks {name}.")
        return value

    async def authorization_url(self) -> LoginRequest:
        """A fresh sign-in: the provider's authorization URL with state, nonce and the PKCE challenge."""
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self._scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = await self._endpoint("authorization_endpoint")
        return LoginRequest(
            url=f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state=state, nonce=nonce, verifier=verifier
        )

    async def exchange(self, *, code: str, verifier: str, nonce: str) -> dict[str, Any]:
        """Trade an authorization code for the ID token's verified claims (401 if anything does not hold)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "client_id": self._client_id,
        }
        endpoint = await self._endpoint("token_endpoint")
        secret = self._secret.get_secret_value() if self._secret else None
        auth = httpx.BasicAuth(self._client_id, secret) if secret else httpx.USE_CLIENT_DEFAULT
        try:
            r = await self._http.post(
                endpoint, data=form, auth=auth, timeout=10.0, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise _provider_unavailable() from exc
        try:
            answer = r.json() if r.status_code == 200 else None
        except ValueError:
            answer = None
        id_token = answer.get("id_token") if isinstance(answer, dict) else None
        if not isinstance(id_token, str):
            raise unauthorized("invalid_token", "The identity provider did not accept the sign-in; start again.")
        claims = await self._verifier.verify(id_token)
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise unauthorized("invalid_token", "The sign-in's ID token does not belong to this sign-in; start again.")
        return claims
