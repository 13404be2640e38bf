"""The registry read cache in Redis: per tenant, one hash per family of objects, invalidated by every write that
changes the family, through either path (``/v1`` and the ``/mlflow`` proxy), before the write answers.

Layout: ``maestro:registry:{tenant_id}:{family}`` is a Redis hash; each field is one cached read (``model:<name>``,
a search's canonical query, ...) holding the response body exactly as the API sends it, so a hit costs one
``HMGET`` and no re-serialisation. The hash also holds ``_gen``, a random token replaced on every invalidation.

- **Families** (``FAMILIES``): ``experiments``, ``runs`` and ``models`` (registered models, their versions and
  aliases, which answer inside each other: a model carries its aliases and latest versions). A write names the
  families it changes (``Operation.invalidates``, ``ProxyRoute.invalidates``): a training job logging metrics
  through ``/mlflow`` drops the tenant's cached runs, never the models a serving client polls. Within a family
  invalidation is whole: a search can hold any object, so a precise key per object would miss searches.
- **Keyed by tenant:** the tenant id comes from the authenticated principal, so one tenant can never read or
  poison another's entries, whatever names or filters it sends (field names are per-hash).
- **Bounded TTL:** each hash expires ``ttl`` seconds after it was (re)created (``EXPIRE ... NX``), so a write made
  directly in MLflow, past the API, is visible after at most ``ttl`` seconds.
- **Invalidation and the race with a slow read:** a write deletes the family's hash and stores a fresh ``_gen``
  after MLflow answered it (whatever the answer: a timed-out write may have been applied). A read that missed
  fills the cache only if ``_gen`` is still what it saw at its lookup (a Lua compare-and-set): a read that fetched
  the old object from MLflow before the write, and tries to store it after, finds a new ``_gen`` and stores
  nothing. A read that looked up after the invalidation reads MLflow after the write, so it sees the new object.
- **Redis down:** reads count as misses and go to MLflow; writes still succeed (staleness then bounded by the
  TTL, and logged).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterable
from typing import Any, Literal

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


Family = Literal["experiments", "runs", "models"]
FAMILIES: tuple[Family, ...] = ("experiments", "runs", "models")


def cache_key(tenant_id: uuid.UUID, family: Family) -> str:
    return f"maestro:registry:{tenant_id}:{family}"


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

    async def get(self, tenant_id: uuid.UUID, family: Family, field: str, *, bypass: bool = False) -> Lookup:
        """Look ``field`` up; with ``bypass`` only the generation is read (a forced miss that may still fill)."""
        key = cache_key(tenant_id, family)
        if bypass:
            try:
                generation = await self._redis.hget(key, GEN_FIELD)  # type: ignore[misc]
            except (RedisError, OSError):
                generation = None
            _MISS.inc()
            return Lookup(None, generation)
        try:
            # redis-py types hmget as "Awaitable | list" (sync and async clients share the stubs).
            value, generation = await self._redis.hmget(key, [field, GEN_FIELD])  # type: ignore[misc]
        except (RedisError, OSError) as exc:
            log.warning("registry cache read failed: %s", type(exc).__name__)
            _MISS.inc()
            return Lookup(None, None)
        (_HIT if value is not None else _MISS).inc()
        return Lookup(value, generation)

    async def put(self, tenant_id: uuid.UUID, family: Family, field: str, value: bytes, *, seen: Lookup) -> bool:
        """Store ``value`` unless the family was invalidated since ``seen`` was read."""
        expected = seen.generation.decode() if seen.generation else ""
        try:
            stored = await self._fill(keys=[cache_key(tenant_id, family)], args=[expected, field, value, self._ttl])
        except (RedisError, OSError) as exc:
            log.warning("registry cache fill failed: %s", type(exc).__name__)
            return False
        return bool(stored)

    async def invalidate(self, tenant_id: uuid.UUID, families: Iterable[Family]) -> None:
        """Drop every cached read of the tenant's ``families``, in one transaction (called after each write)."""
        keys = [cache_key(tenant_id, family) for family in dict.fromkeys(families)]
        if not keys:
            return
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.delete(key)
                    pipe.hset(key, GEN_FIELD, secrets.token_hex(8))
                    pipe.expire(key, self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("registry cache invalidation failed (stale for at most the TTL): %s", type(exc).__name__)
