"""The registry read cache in Redis: one hash per tenant, invalidated as a whole by every write through the API.

Layout: ``maestro:registry:{tenant_id}`` is a Redis hash; each field is one cached read (``model:<name>``, a
search's canonical query, ...) holding the response body exactly as the API sends it, so a hit costs one
``HMGET`` and no re-serialisation. The hash also holds ``_gen``, a random token replaced on every invalidation.

- **Keyed by tenant:** the tenant id comes from the authenticated principal, so one tenant can never read or
  poison another's entries, whatever names or filters it sends (field names are per-hash).
- **Bounded TTL:** the hash expires ``ttl`` seconds after it was (re)created (``EXPIRE ... NX``), so a write made
  directly in MLflow is visible after at most ``ttl`` seconds.
- **Invalidation:** every API write deletes the tenant's hash and stores a fresh ``_gen``. A read that missed
  before a write fills the cache only if ``_gen`` is still what it saw (a Lua compare-and-set), so a slow read
  cannot put back a value older than the write.
- **Redis down:** reads count as misses and go to MLflow; writes still succeed (the TTL bounds the staleness).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from maestro_api.metrics import REGISTRY_CACHE_REQUESTS

log = logging.getLogger("maestro_api.registry.cache")
_HIT = REGISTRY_CACHE_REQUESTS.labels(result="hit")
_MISS = REGISTRY_CACHE_REQUESTS.labels(result="miss")

GEN_FIELD = "_gen"
MAX_FIELD_LENGTH = 200

# KEYS[1] hash; ARGV[1] expected generation ("" = none), ARGV[2] field, ARGV[3] value, ARGV[4] ttl seconds.
_FILL_SCRIPT = """
local gen = redis.call('HGET', KEYS[1], '_gen')
if (gen or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4], 'NX')
return 1
"""


def cache_key(tenant_id: uuid.UUID) -> str:
    return f"maestro:registry:{tenant_id}"


def field_for(kind: str, *parts: Any) -> str:
    """A field name for one read; long or odd inputs are hashed so the field stays short and printable."""
    raw = "\x1f".join(str(p) for p in parts)
    field = f"{kind}:{raw}"
    if len(field) > MAX_FIELD_LENGTH or not field.isprintable() or field == GEN_FIELD:
        field = f"{kind}#{hashlib.sha256(raw.encode()).hexdigest()}"
    return field


class Lookup:
    """The result of a cache lookup: ``value`` on a hit, and the generation a fill must match."""

    __slots__ = ("generation", "value")

    def __init__(self, value: bytes | None, generation: bytes | None) -> None:
        self.value = value
        self.generation = generation


class RegistryCache:
    """Tenant-keyed read cache. ``ttl_seconds`` bounds how long a direct MLflow write can stay unseen."""

    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: float) -> None:
        self._redis = redis
        self._ttl = max(1, int(ttl_seconds))
        self._fill = redis.register_script(_FILL_SCRIPT)

    async def get(self, tenant_id: uuid.UUID, field: str, *, bypass: bool = False) -> Lookup:
        """Look ``field`` up; with ``bypass`` only the generation is read (a forced miss that may still fill)."""
        if bypass:
            try:
                generation = await self._redis.hget(cache_key(tenant_id), GEN_FIELD)  # type: ignore[misc]
            except (RedisError, OSError):
                generation = None
            _MISS.inc()
            return Lookup(None, generation)
        try:
            # redis-py types hmget as "Awaitable | list" (sync and async clients share the stubs).
            value, generation = await self._redis.hmget(cache_key(tenant_id), [field, GEN_FIELD])  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            log.warning("registry cache read failed: %s", type(exc).__name__)
            _MISS.inc()
            return Lookup(None, None)
        (_HIT if value is not None else _MISS).inc()
        return Lookup(value, generation)

    async def put(self, tenant_id: uuid.UUID, field: str, value: bytes, *, seen: Lookup) -> bool:
        """Store ``value`` unless the tenant's cache was invalidated since ``seen`` was read."""
        expected = seen.generation.decode() if seen.generation else ""
        try:
            stored = await self._fill(keys=[cache_key(tenant_id)], args=[expected, field, value, self._ttl])
        except (RedisError, OSError) as exc:
            log.warning("registry cache fill failed: %s", type(exc).__name__)
            return False
        return bool(stored)

    async def invalidate(self, tenant_id: uuid.UUID) -> None:
        """Drop every cached read of the tenant (called after each successful write)."""
        key = cache_key(tenant_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hset(key, GEN_FIELD, secrets.token_hex(8))
                pipe.expire(key, self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("registry cache invalidation failed (stale for at most the TTL): %s", type(exc).__name__)
