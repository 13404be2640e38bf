"""Server-side UI sessions in Redis, referenced by a cookie that carries nothing but a random id.

- ``SESSION_COOKIE`` (``__Host-maestro-session``): 32 random bytes, ``Secure; HttpOnly; SameSite=Lax; Path=/``, no
  ``Domain`` (the ``__Host-`` prefix makes browsers enforce all three). Redis holds the session under the SHA-256 of
  the id, so neither a Redis dump nor a log line gives anyone a usable cookie.
- A session holds the three claims a principal is built from (``sub``, the tenant and role claims), never a token:
  every request rebuilds the principal from them with the API's own rules (``Authenticator.principal_from_claims``),
  so a suspended tenant or a disabled user loses the UI as fast as they lose the API.
- Lifetime: the key expires after ``ui_session_idle_seconds`` without a request (each request renews it, one
  ``GETEX``), and the value carries the absolute end, ``ui_session_lifetime_seconds`` after sign-in. Signing out
  deletes the key: the cookie is worthless at once, on every API process.
- Without Redis there are no sessions: every UI request answers 503 (the API's bearer routes are unaffected).
- ``LOGIN_COOKIE`` (``__Host-maestro-login``) binds a pending sign-in to the browser that started it (login CSRF):
  the callback must come back with the cookie whose hash the pending sign-in stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.responses import Response

from maestro_api.core.errors import ProblemError

SESSION_COOKIE = "__Host-maestro-session"
LOGIN_COOKIE = "__Host-maestro-login"
LOGIN_SECONDS = 600
"""How long a started sign-in may take to come back from the identity provider."""
_SESSION_KEY = "maestro:ui:session:"
_LOGIN_KEY = "maestro:ui:login:"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def set_cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    """A ``__Host-`` cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain."""
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in sent to the identity provider: what the callback must match.

    Args:
        nonce: the ID token's expected ``nonce``.
        verifier: the PKCE code verifier (the provider saw only its S256 challenge).
        browser: SHA-256 of the login cookie set in the browser that started it.
    """

    nonce: str
    verifier: str
    browser: str

    def started_by(self, cookie: str | None) -> bool:
        return cookie is not None and hmac.compare_digest(self.browser, _digest(cookie))


@dataclass(frozen=True)
class UiSession:
    """A signed-in browser: the claims its principal is built from and when the session ends regardless."""

    claims: dict[str, Any]
    ends_at: float


def _unavailable() -> ProblemError:
    return ProblemError(
        503, "Service Unavailable", "Sessions are unavailable; retry shortly.", headers={"Retry-After": "1"}
    )


class SessionStore:
    """Sessions and pending sign-ins in Redis.

    Args:
        redis: the API's Redis.
        lifetime_seconds: a session's absolute lifetime.
        idle_seconds: how long a session lives without a request.
    """

    def __init__(self, *, redis: aioredis.Redis, lifetime_seconds: int, idle_seconds: int) -> None:
        self._redis = redis
        self.lifetime_seconds = lifetime_seconds
        self.idle_seconds = idle_seconds

    async def start_login(self, *, state: str, nonce: str, verifier: str) -> str:
        """Store a pending sign-in under its ``state``; return the login cookie's value that binds it."""
        cookie = secrets.token_urlsafe(32)
        value = orjson.dumps({"nonce": nonce, "verifier": verifier, "browser": _digest(cookie)})
        await self._call(self._redis.set(_LOGIN_KEY + _digest(state), value, ex=LOGIN_SECONDS))
        return cookie

    async def finish_login(self, state: str) -> PendingLogin | None:
        """The pending sign-in of ``state``, taken once (a replayed callback finds nothing)."""
        raw = await self._call(self._redis.getdel(_LOGIN_KEY + _digest(state)))
        if raw is None:
            return None
        data = orjson.loads(raw)
        return PendingLogin(nonce=data["nonce"], verifier=data["verifier"], browser=data["browser"])

    async def create(self, claims: dict[str, Any]) -> str:
        """A new session for verified ``claims``; returns the cookie value (the only copy of the id)."""
        session_id = secrets.token_urlsafe(32)
        value = orjson.dumps({"claims": claims, "ends_at": time.time() + self.lifetime_seconds})
        await self._call(self._redis.set(_SESSION_KEY + _digest(session_id), value, ex=self.idle_seconds))
        return session_id

    async def load(self, session_id: str) -> UiSession | None:
        """The live session of a cookie value, renewing its idle timeout; None if unknown, idle or too old."""
        key = _SESSION_KEY + _digest(session_id)
        raw = await self._call(self._redis.getex(key, ex=self.idle_seconds))
        if raw is None:
            return None
        data = orjson.loads(raw)
        if data["ends_at"] <= time.time():
            await self._call(self._redis.delete(key))
            return None
        return UiSession(claims=data["claims"], ends_at=data["ends_at"])

    async def end(self, session_id: str) -> None:
        await self._call(self._redis.delete(_SESSION_KEY + _digest(session_id)))

    @staticmethod
    async def _call(command: Awaitable[Any]) -> Any:
        """One Redis command; a Redis that cannot answer is a 503, never a signed-in or signed-out answer."""
        try:
            return await command
        except RedisError as exc:
            raise _unavailable() from exc
