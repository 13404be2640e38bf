"""Authentication: API keys and OIDC JWTs, both sent as ``Authorization: Bearer <credential>``.

API keys look like ``mst_<prefix>_<secret>``: 8 random lookup characters and 32 random bytes. Only
HMAC-SHA256(pepper, key) is stored; a key is verified with one database round trip (a SECURITY DEFINER lookup
by prefix, constant-time hash comparison), and verified keys are cached in-process for at most
``auth_cache_ttl_seconds`` (the revocation lag, documented in docs/api.md).

OIDC JWTs are verified against the issuer's JWKS: allow-listed asymmetric algorithms only, ``iss``/``aud``/``exp``
required, ``nbf`` checked; the tenant and role come from configurable claims.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import ROLES
from maestro_api.metrics import AUTH_FAILURES

KEY_PREFIX = "mst"
_ALPHABET = string.ascii_lowercase + string.digits
_LOOKUP = text("SELECT * FROM maestro_api_key_lookup(:prefix)")
_TENANT_LOOKUP = text("SELECT * FROM maestro_tenant_lookup(:name)")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the authenticated subject, its tenant, role and the tenant's rate-limit tier."""

    kind: Literal["api_key", "oidc"]
    subject: str
    tenant_id: uuid.UUID
    tenant_name: str
    tier: str
    role: str

    @property
    def actor(self) -> str:
        """The audit log's name for this principal."""
        return f"{self.kind}:{self.subject}"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly generated key: ``plaintext`` is shown to the caller once and never stored."""

    plaintext: str
    prefix: str
    key_hash: bytes


def hash_api_key(key: str, pepper: str) -> bytes:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).digest()


def generate_api_key(pepper: str) -> NewApiKey:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(plaintext=plaintext, prefix=prefix, key_hash=hash_api_key(plaintext, pepper))


def parse_api_key(credential: str) -> str | None:
    """The lookup prefix of something shaped like an API key, else None."""
    parts = credential.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX and len(parts[1]) == 8 and parts[2]:
        return parts[1]
    return None


def unauthorized(reason: str, detail: str, *, error: str = "invalid_token") -> ProblemError:
    """A 401 with the RFC 6750 challenge; ``reason`` labels maestro_auth_failures_total."""
    AUTH_FAILURES.labels(reason=reason).inc()
    challenge = 'Bearer realm="maestro"' if error == "" else f'Bearer realm="maestro", error="{error}"'
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


class Authenticator:
    """Turns a bearer credential into a ``Principal`` or raises a 401 ``ProblemError``."""

    def __init__(self, *, settings: Settings, engine: AsyncEngine, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._engine = engine
        self._pepper = settings.api_key_pepper.get_secret_value()
        self._ttl = settings.auth_cache_ttl_seconds
        self._cache: dict[bytes, tuple[float, Principal, datetime | None]] = {}
        self._oidc = OidcVerifier(settings=settings, http=http) if settings.oidc_issuer else None
        self._tenants: dict[str, tuple[float, uuid.UUID, str, bool]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise unauthorized("missing", "Send `Authorization: Bearer <API key or OIDC token>`.", error="")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized("malformed", "The Authorization header must be `Bearer <credential>`.", error="")
        prefix = parse_api_key(credential)
        if prefix is not None:
            return await self._api_key(credential, prefix)
        if credential.count(".") == 2 and self._oidc is not None:
            return await self._jwt(credential)
        raise unauthorized("malformed", "The credential is neither an API key nor an accepted token.")

    def invalidate(self) -> None:
        """Forget cached principals (called after a key is revoked in this process)."""
        self._cache.clear()

    async def _api_key(self, key: str, prefix: str) -> Principal:
        digest = hash_api_key(key, self._pepper)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now and (cached[2] is None or cached[2] > datetime.now(UTC)):
            return cached[1]
        async with self._engine.connect() as conn:
            row = (await conn.execute(_LOOKUP, {"prefix": prefix})).mappings().first()
            await conn.rollback()
        if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
            raise unauthorized("invalid_key", "The API key is not valid.")
        if row["revoked_at"] is not None:
            raise unauthorized("revoked_key", "The API key has been revoked.")
        if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
            raise unauthorized("expired_key", "The API key has expired.")
        if not row["tenant_active"]:
            raise unauthorized("tenant_inactive", "The tenant is suspended.")
        principal = Principal(
            kind="api_key",
            subject=str(row["key_id"]),
            tenant_id=row["tenant_id"],
            tenant_name=row["tenant_name"],
            tier=row["tier"],
            role=row["role"],
        )
        if self._ttl > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal, row["expires_at"])
        return principal

    async def _jwt(self, token: str) -> Principal:
        assert self._oidc is not None
        return await self.principal_from_claims(await self._oidc.verify(token))

    async def principal_from_claims(self, claims: dict[str, Any]) -> Principal:
        """The principal of verified OIDC claims (a bearer token's, or a UI session's from its ID token): the
        tenant and role claims, the tenant looked up (cached like keys), a 401 when they do not hold."""
        s = self._settings
        tenant_name = claims.get(s.oidc_tenant_claim)
        role = claims.get(s.oidc_role_claim, "viewer")
        if not isinstance(tenant_name, str) or not tenant_name:
            raise unauthorized("claims", f"The token has no `{s.oidc_tenant_claim}` claim.")
        if role not in ROLES:
            raise unauthorized("claims", f"The token's `{s.oidc_role_claim}` claim is not a Maestro role.")
        tenant_id, tier, active = await self._tenant(tenant_name)
        if not active:
            raise unauthorized("tenant_inactive", "The tenant is suspended.")
        return Principal(
            kind="oidc", subject=str(claims["sub"]), tenant_id=tenant_id, tenant_name=tenant_name, tier=tier, role=role
        )

    async def _tenant(self, name: str) -> tuple[uuid.UUID, str, bool]:
        now = time.monotonic()
        cached = self._tenants.get(name)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2], cached[3]
        async with self._engine.connect() as conn:
            row = (await conn.execute(_TENANT_LOOKUP, {"name": name})).first()
            await conn.rollback()
        if row is None:
            raise unauthorized("claims", "The token names an unknown tenant.")
        if len(self._tenants) > 10_000:
            self._tenants.clear()
        self._tenants[name] = (now + max(self._ttl, 1.0), row[0], row[1], row[2])
        return row[0], row[1], row[2]


class OidcVerifier:
    """Verifies OIDC access/ID tokens against a JWKS fetched over HTTP (cached, refetched on an unknown kid)."""

    def __init__(self, *, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url
        self._issuer = settings.oidc_issuer
        self._audience = settings.oidc_audience
        self._jwks_url = settings.oidc_jwks_url
        self._algorithms = list(settings.oidc_algorithms)
        self._leeway = settings.oidc_leeway_seconds
        self._cache_seconds = settings.oidc_jwks_cache_seconds
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -1e9

    async def _refresh(self, *, force: bool) -> None:
        now = time.monotonic()
        fresh = now - self._fetched_at < self._cache_seconds
        # An unknown kid refetches at most every 10 s so forged kids cannot hammer the issuer.
        if (fresh and not force) or (force and now - self._fetched_at < 10):
            return
        try:
            response = await self._http.get(self._jwks_url, timeout=5.0)
            response.raise_for_status()
            jwks = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            if not self._keys:
                AUTH_FAILURES.labels(reason="jwks_unavailable").inc()
                raise ProblemError(503, "Service Unavailable", "The identity provider's keys are unavailable.") from exc
            return  # keep serving with the keys we have
        self._keys = {k.key_id or "": k for k in jwks.keys}
        self._fetched_at = now

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized("invalid_token", "The token is malformed.") from exc
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise unauthorized("algorithm", f"Token algorithm {alg!r} is not accepted.")
        kid = header.get("kid") or ""
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            raise unauthorized("unknown_key", "The token was signed by an unknown key.")
        if key.algorithm_name != alg:
            raise unauthorized("algorithm", "The token's algorithm does not match its key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("expired_token", "The token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise unauthorized("immature_token", "The token is not valid yet (nbf).") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("invalid_token", f"The token is not valid: {type(exc).__name__}.") from exc
        return claims
