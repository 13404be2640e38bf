"""Per-tenant tiers of sliding-window request limits, in Redis, with the ``limits`` library.

Each authenticated request counts once against its principal (API key or OIDC subject) and once against its
tenant; the key is checked first so a throttled key does not eat its tenant's budget. A refusal is a 429 with
``Retry-After`` and ``RateLimit-Limit/Remaining/Reset``. When Redis cannot be reached,
``MAESTRO_RATE_LIMIT_FAILURE_MODE`` decides: ``open`` serves the request (and counts
``maestro_rate_limit_backend_errors_total``), ``closed`` answers 503.

Before authentication it also counts failed authentications per client address (``auth_failure_limit`` per
``auth_failure_window_seconds``), for ``maestro_api.core.security.Authenticator``, which refuses a client over that
budget before any database lookup. Without Redis that budget is not enforced (the lookups stay bounded by the
authenticator's own lanes).
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError
from maestro_api.core.security import Principal
from maestro_api.metrics import RATE_LIMIT_BACKEND_ERRORS, RATE_LIMIT_REJECTIONS

log = logging.getLogger("maestro_api.ratelimit")


class RateLimiter:
    """Checks and counts one request of a principal against its tier's per-key and per-tenant limits."""

    def __init__(self, *, settings: Settings, redis: aioredis.Redis) -> None:
        storage = RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # passed through to redis
            key_prefix="maestro-rl",
        )
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._fail_open = settings.rate_limit_failure_mode == "open"
        self._items: dict[str, tuple[RateLimitItem, RateLimitItem]] = {
            tier: (
                RateLimitItemPerSecond(limits.per_key, limits.window_seconds, namespace="key"),
                RateLimitItemPerSecond(limits.per_tenant, limits.window_seconds, namespace="tenant"),
            )
            for tier, limits in settings.rate_limits.items()
        }
        self._auth_failures = RateLimitItemPerSecond(
            settings.auth_failure_limit, settings.auth_failure_window_seconds, namespace="authfail"
        )

    async def check(self, principal: Principal) -> None:
        """Count the request; raise a 429 (over the limit) or 503 (Redis down, fail-closed) ``ProblemError``."""
        per_key, per_tenant = self._items.get(principal.tier, self._items["free"])
        try:
            if not await self._strategy.hit(per_key, principal.actor):
                await self._reject(principal, per_key, "key", principal.actor)
            if not await self._strategy.hit(per_tenant, str(principal.tenant_id)):
                await self._reject(principal, per_tenant, "tenant", str(principal.tenant_id))
        except (RedisError, OSError) as exc:
            RATE_LIMIT_BACKEND_ERRORS.inc()
            if self._fail_open:
                log.warning("rate limiting skipped, Redis unavailable: %s", type(exc).__name__)
                return
            raise ProblemError(
                503,
                "Service Unavailable",
                "Rate limiting is unavailable and the service is configured to fail closed.",
                headers={"Retry-After": "1"},
            ) from exc

    async def auth_failures_exceeded(self, address: str) -> bool:
        """Whether ``address`` has used up its failed authentications of the window."""
        try:
            return not await self._strategy.test(self._auth_failures, address)
        except (RedisError, OSError) as exc:
            self._backend_error(exc)
            return False

    async def count_auth_failure(self, address: str) -> None:
        """Count one failed authentication of ``address``."""
        try:
            await self._strategy.hit(self._auth_failures, address)
        except (RedisError, OSError) as exc:
            self._backend_error(exc)

    @staticmethod
    def _backend_error(exc: Exception) -> None:
        RATE_LIMIT_BACKEND_ERRORS.inc()
        log.warning("auth failure limit skipped, Redis unavailable: %s", type(exc).__name__)

    async def _reject(self, principal: Principal, item: RateLimitItem, scope: str, identifier: str) -> None:
        stats = await self._strategy.get_window_stats(item, identifier)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        RATE_LIMIT_REJECTIONS.labels(tier=principal.tier, scope=scope).inc()
        raise ProblemError(
            429,
            "Too Many Requests",
            f"The {principal.tier} tier allows {item.amount} requests per {item.get_expiry()} s per {scope}.",
            headers={
                "Retry-After": str(reset),
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": str(stats.remaining),
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
            },
        )
