"""Authentication: API keys and OIDC JWTs, both sent as ``Authorization: Bearer <credential>``.

API keys look like ``mst_<prefix>_<secret>``: 8 random lookup characters and 32 random bytes (43 base64url
characters); anything else is refused before any lookup. Only HMAC-SHA256(pepper, key) is stored; a key is
verified with one database round trip (a SECURITY DEFINER lookup by prefix, constant-time hash comparison).

OIDC JWTs are verified against the issuer's JWKS: allow-listed asymmetric algorithms only, ``iss``/``aud``/``exp``
required, ``nbf`` checked; the tenant and role come from configurable claims.

Identity follows the tenant's directory (``users``). A key acts for the user it is bound to (``api_keys.user_id``;
only bootstrap keys have none): it is refused while that user is disabled and its role is capped at the user's
current one. An OIDC subject with a directory entry likewise: refused while disabled, its role the lesser of the
token's claim and the entry's. Both are cached in-process for at most ``auth_cache_ttl_seconds``: the lag before
a revocation, a suspension, a disabled or demoted user takes effect in a warm process (docs/api.md).

Before authentication, a guessed key must stay cheap: a refusal is remembered per key digest (a failed key is never
looked up twice within the cache's life), lookups run on a small connection pool of their own (the requests' pool
is never touched), keys this process has never seen valid wait behind their own small budget and are answered 503
when it is full, and a client address that has failed too often is answered 429 before any lookup (counted in
Redis). Keys this process has seen valid are re-checked on a lane of their own, so a flood of guessed keys cannot
delay a real tenant.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import string
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx
import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from maestro_api.core.config import Settings
from maestro_api.core.db import create_engine
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import ROLES
from maestro_api.metrics import AUTH_FAILURES

KEY_PREFIX = "mst"
_ALPHABET = string.ascii_lowercase + string.digits
_KEY_SHAPE = re.compile(r"^mst_([a-z0-9]{8})_[A-Za-z0-9_-]{43}$")
_LOOKUP = text("SELECT * FROM maestro_api_key_lookup(:prefix)")
_OIDC_LOOKUP = text("SELECT * FROM maestro_oidc_lookup(:tenant, :subject)")
# A refused key digest is remembered this long (a guessed key can never become valid; revoked, expired and the like
# are remembered for auth_cache_ttl_seconds only, so a re-enabled user or tenant is back within that lag).
INVALID_KEY_MEMORY_SECONDS = 3600.0
CACHE_ENTRIES = 50_000
# Keys not seen valid queue for a lookup slot at most this many per slot; past that they are refused at once, so a
# flood costs a hash and a counter per request, not a timer in a long queue.
FIRST_SEEN_QUEUE_PER_SLOT = 8


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the authenticated subject, its tenant, role and the tenant's rate-limit tier."""

    kind: Literal["api_key", "oidc"]
    subject: str
    tenant_id: uuid.UUID
    tenant_name: str
    tier: str
    role: str
    user_id: uuid.UUID | None = None
    """The directory entry the principal acts for: a key's user, an OIDC subject's entry (None: a bootstrap key, an
    OIDC subject without an entry)."""

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
    """The lookup prefix of something shaped exactly like an API key, else None."""
    match = _KEY_SHAPE.fullmatch(credential)
    return match.group(1) if match else None


def lesser_role(role: str, ceiling: str | None) -> str:
    """``role`` capped at ``ceiling`` (a user's current role); unknown roles cap to the least."""
    if ceiling is None:
        return role
    rank = {str(r): i for i, r in enumerate(ROLES)}
    return ROLES[min(rank.get(role, 0), rank.get(ceiling, 0))]


def unauthorized(reason: str, detail: str, *, error: str = "invalid_token") -> ProblemError:
    """A 401 with the RFC 6750 challenge; ``reason`` labels maestro_auth_failures_total."""
    AUTH_FAILURES.labels(reason=reason).inc()
    challenge = 'Bearer realm="maestro"' if error == "" else f'Bearer realm="maestro", error="{error}"'
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def auth_busy() -> ProblemError:
    """No lookup slot freed in time: the service is being flooded with keys it has not seen valid."""
    AUTH_FAILURES.labels(reason="busy").inc()
    return ProblemError(
        503, "Service Unavailable", "Authentication is busy; retry shortly.", headers={"Retry-After": "1"}
    )


def auth_throttled(window_seconds: int) -> ProblemError:
    """The client address failed authentication too often in the window."""
    AUTH_FAILURES.labels(reason="throttled").inc()
    return ProblemError(
        429,
        "Too Many Requests",
        "Too many failed authentications from this address; retry later.",
        headers={"Retry-After": str(window_seconds)},
    )


class FailureLimiter(Protocol):
    """Counts failed authentications per client address (``maestro_api.core.ratelimit.RateLimiter``)."""

    async def auth_failures_exceeded(self, address: str) -> bool: ...

    async def count_auth_failure(self, address: str) -> None: ...


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """A bounded mapping that forgets its least recently used entry first (the caches below)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: _K) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


@dataclass(frozen=True, slots=True)
class _Verified:
    """A principal verified at some time: fresh until ``until`` (monotonic), and within the key's own expiry."""

    until: float
    principal: Principal
    expires_at: datetime | None

    def fresh(self, now: float) -> bool:
        return self.until > now and (self.expires_at is None or self.expires_at > datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class _Refused:
    """A refusal to answer again until ``until`` (monotonic): its reason (the metric's label) and detail."""

    until: float
    reason: str
    detail: str


class _Lane:
    """A bounded number of lookups at once; a caller waits at most ``wait`` seconds, behind at most ``queue`` others
    (None: any number), then is answered 503 (``auth_busy``)."""

    def __init__(self, size: int, *, wait: float, queue: int | None) -> None:
        self._slots = asyncio.Semaphore(size)
        self._wait = wait
        self._queue = queue
        self._waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._queue is not None and self._slots.locked() and self._waiting >= self._queue:
            raise auth_busy()
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait):
                await self._slots.acquire()
        except TimeoutError:
            raise auth_busy() from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


def create_auth_engine(settings: Settings) -> AsyncEngine:
    """The authentication lookups' own pool: one connection per lookup slot, never more."""
    return create_engine(
        settings,
        pool_size=settings.auth_lookup_concurrency + settings.auth_revalidation_concurrency,
        max_overflow=0,
        name=f"{settings.service_name}-auth",
    )


class Authenticator:
    """Turns a bearer credential into a ``Principal`` or raises a 401 ``ProblemError`` (429 or 503 before any lookup
    when the client or the lookups are over their budgets; see the module docstring)."""

    def __init__(self, *, settings: Settings, http: httpx.AsyncClient, limiter: FailureLimiter | None = None) -> None:
        self._settings = settings
        self._engine = create_auth_engine(settings)
        self._limiter = limiter
        self._pepper = settings.api_key_pepper.get_secret_value()
        self._ttl = settings.auth_cache_ttl_seconds
        # Every digest verified here stays (even past its freshness): "seen valid" picks the re-check lane.
        self._verified: _Lru[bytes, _Verified] = _Lru(CACHE_ENTRIES)
        self._refused: _Lru[bytes, _Refused] = _Lru(CACHE_ENTRIES)
        self._directory: _Lru[tuple[str, str], tuple[float, Mapping[str, Any] | None]] = _Lru(CACHE_ENTRIES)
        self._inflight: dict[bytes, asyncio.Task[Principal | _Refused]] = {}
        size = settings.auth_lookup_concurrency
        self._first_seen = _Lane(size, wait=settings.auth_lookup_wait_seconds, queue=size * FIRST_SEEN_QUEUE_PER_SLOT)
        self._seen_valid = _Lane(
            settings.auth_revalidation_concurrency, wait=settings.database_pool_timeout_seconds, queue=None
        )
        self._oidc = OidcVerifier(settings=settings, http=http) if settings.oidc_issuer else None

    async def aclose(self) -> None:
        await self._engine.dispose()

    async def authenticate(self, authorization: str | None, *, client: str | None = None) -> Principal:
        """The principal of ``authorization``; ``client`` is the caller's address (failed attempts count on it)."""
        if not authorization:
            raise unauthorized("missing", "Send `Authorization: Bearer <API key or OIDC token>`.", error="")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized("malformed", "The Authorization header must be `Bearer <credential>`.", error="")
        prefix = parse_api_key(credential)
        if prefix is not None:
            return await self._api_key(credential, prefix, client)
        if credential.count(".") == 2 and self._oidc is not None:
            return await self._jwt(credential)
        raise unauthorized("malformed", "The credential is neither an API key nor an accepted token.")

    def invalidate(self) -> None:
        """Forget cached answers (called after a key is revoked or a user changed in this process)."""
        self._verified.clear()
        self._refused.clear()
        self._directory.clear()

    async def _lookup(self, statement: Any, params: dict[str, str]) -> Mapping[str, Any] | None:
        """One lookup on the authentication pool (the caller holds a slot of a lane)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(statement, params)).mappings().first()
            await conn.rollback()
        return dict(row) if row is not None else None

    async def _api_key(self, key: str, prefix: str, client: str | None) -> Principal:
        digest = hash_api_key(key, self._pepper)
        now = time.monotonic()
        verified = self._verified.get(digest)
        if verified is not None and verified.fresh(now):
            return verified.principal
        refused = self._refused.get(digest)
        if refused is not None and refused.until > now:
            raise unauthorized(refused.reason, refused.detail)
        # One lookup per key at a time: concurrent requests with the same key (a tenant's burst as its cache entry
        # expires, a repeated guess) share it. The lookup runs as a task of its own, so a caller that goes away
        # does not cancel it for the others.
        lookup = self._inflight.get(digest)
        if lookup is None:
            lookup = asyncio.create_task(self._check_key(digest, prefix, client, seen_valid=verified is not None))
            self._inflight[digest] = lookup
            lookup.add_done_callback(self._lookup_done(digest))
        checked = await asyncio.shield(lookup)
        if isinstance(checked, _Refused):
            raise unauthorized(checked.reason, checked.detail)
        return checked

    def _lookup_done(self, digest: bytes) -> Callable[[asyncio.Task[Principal | _Refused]], None]:
        def done(task: asyncio.Task[Principal | _Refused]) -> None:
            self._inflight.pop(digest, None)
            if not task.cancelled():
                task.exception()  # retrieved: every caller may have gone away

        return done

    async def _check_key(
        self, digest: bytes, prefix: str, client: str | None, *, seen_valid: bool
    ) -> Principal | _Refused:
        """Look the key up and remember the answer: its principal, or why it is refused."""
        now = time.monotonic()
        limiter = self._limiter if client else None
        # Everything below, the address's budget in Redis included, runs only in a lookup slot: so a flood of keys
        # not seen valid waits for at most a few slots' worth of Redis calls and lookups, and is refused 503.
        async with (self._seen_valid if seen_valid else self._first_seen).slot():
            if not seen_valid and limiter is not None and await limiter.auth_failures_exceeded(str(client)):
                raise auth_throttled(self._settings.auth_failure_window_seconds)
            row = await self._lookup(_LOOKUP, {"prefix": prefix})
            checked = self._key_principal(row, digest)
            if isinstance(checked, _Refused) and limiter is not None:
                await limiter.count_auth_failure(str(client))
        if isinstance(checked, _Refused):
            self._verified.pop(digest)
            memory = INVALID_KEY_MEMORY_SECONDS if checked.reason == "invalid_key" else self._ttl
            if memory > 0:
                self._refused.put(digest, _Refused(now + memory, checked.reason, checked.detail))
            return checked
        assert row is not None
        self._verified.put(digest, _Verified(now + self._ttl, checked, row["expires_at"]))
        return checked

    @staticmethod
    def _key_principal(row: Mapping[str, Any] | None, digest: bytes) -> Principal | _Refused:
        """The key's principal, or why it is refused."""
        if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
            return _Refused(0, "invalid_key", "The API key is not valid.")
        if row["revoked_at"] is not None:
            return _Refused(0, "revoked_key", "The API key has been revoked.")
        if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
            return _Refused(0, "expired_key", "The API key has expired.")
        if not row["tenant_active"]:
            return _Refused(0, "tenant_inactive", "The tenant is suspended.")
        if row["user_id"] is not None and row["user_disabled"]:
            return _Refused(0, "user_disabled", "The key's user is disabled.")
        return Principal(
            kind="api_key",
            subject=str(row["key_id"]),
            tenant_id=row["tenant_id"],
            tenant_name=row["tenant_name"],
            tier=row["tier"],
            role=lesser_role(row["role"], row["user_role"] if row["user_id"] is not None else None),
            user_id=row["user_id"],
        )

    async def _jwt(self, token: str) -> Principal:
        assert self._oidc is not None
        return await self.principal_from_claims(await self._oidc.verify(token))

    async def principal_from_claims(self, claims: dict[str, Any]) -> Principal:
        """The principal of verified OIDC claims (a bearer token's, or a UI session's from its ID token): the
        tenant and role claims, checked against the tenant and the subject's directory entry (a disabled user
        refused, the role the lesser of the claim and the entry); a 401 when they do not hold."""
        s = self._settings
        tenant_name = claims.get(s.oidc_tenant_claim)
        role = claims.get(s.oidc_role_claim, "viewer")
        subject = str(claims["sub"])
        if not isinstance(tenant_name, str) or not tenant_name:
            raise unauthorized("claims", f"The token has no `{s.oidc_tenant_claim}` claim.")
        if role not in ROLES:
            raise unauthorized("claims", f"The token's `{s.oidc_role_claim}` claim is not a Maestro role.")
        entry = await self._directory_entry(tenant_name, subject)
        if entry is None:
            raise unauthorized("claims", "The token names an unknown tenant.")
        if not entry["active"]:
            raise unauthorized("tenant_inactive", "The tenant is suspended.")
        if entry["user_id"] is not None and entry["user_disabled"]:
            raise unauthorized("user_disabled", "The user is disabled in the tenant's directory.")
        return Principal(
            kind="oidc",
            subject=subject,
            tenant_id=entry["tenant_id"],
            tenant_name=tenant_name,
            tier=entry["tier"],
            role=lesser_role(role, entry["user_role"] if entry["user_id"] is not None else None),
            user_id=entry["user_id"],
        )

    async def _directory_entry(self, tenant: str, subject: str) -> Mapping[str, Any] | None:
        """The tenant and the subject's directory entry (if any), cached for ``auth_cache_ttl_seconds``. Only tokens
        with a valid signature get here, so the lookup takes the lane of credentials seen valid."""
        now = time.monotonic()
        cached = self._directory.get((tenant, subject))
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._seen_valid.slot():
            entry = await self._lookup(_OIDC_LOOKUP, {"tenant": tenant, "subject": subject})
        if self._ttl > 0:
            self._directory.put((tenant, subject), (now + self._ttl, entry))
        return entry


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
