"""Async SQLAlchemy (psycopg 3) engine, sessions, and the per-transaction tenant context that RLS reads.

The tenant is set with ``set_config(..., true)`` (the function form of ``SET LOCAL``): it lives exactly as long
as the transaction, so a pooled connection never carries one tenant's context into another request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from maestro_api.core.config import Settings

_SET_CONTEXT = text(
    "SELECT set_config('maestro.tenant_id', :tenant_id, true), set_config('maestro.platform', :platform, true)"
)


def create_engine(settings: Settings) -> AsyncEngine:
    """The service role's connection pool."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        pool_pre_ping=False,  # a broken connection fails one request and is replaced; pinging costs a round trip
        connect_args={"application_name": settings.service_name},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def set_tenant_context(session: AsyncSession, *, tenant_id: uuid.UUID, platform: bool = False) -> None:
    """Scope the current transaction to ``tenant_id`` (RLS policies read it); ``platform`` also lets the
    transaction see every tenant's row in ``tenants``, ``quotas`` and the audit tables (platform-admin)."""
    await session.execute(_SET_CONTEXT, {"tenant_id": str(tenant_id), "platform": "on" if platform else "off"})


@asynccontextmanager
async def tenant_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], *, tenant_id: uuid.UUID, platform: bool = False
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction scoped to ``tenant_id``; commits on success, rolls back on error."""
    async with sessionmaker() as session, session.begin():
        await set_tenant_context(session, tenant_id=tenant_id, platform=platform)
        yield session
