"""Async SQLAlchemy (psycopg 3) engine, sessions, and the per-transaction tenant context that RLS reads.

The tenant is set with ``set_config(..., true)`` (the function form of ``SET LOCAL``): it lives exactly as long
as the transaction, so a pooled connection never carries one tenant's context into another request.

Request sessions are lazy: ``scope_session`` only records the tenant, and the first statement of the
transaction takes a pooled connection and sets the context on it (the ``after_begin`` event) before running.
So a request that first waits on something else (an MLflow call) holds no database connection meanwhile.

Every session also carries the audit key its sessionmaker was made with (``create_sessionmaker``), which
``maestro_api.core.audit`` signs events with. ``refuse_owner_credentials`` is the serving process's check that its
database role is not one that could turn off RLS or the audit log's trigger.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from maestro_api.core.config import AuditKey, Settings

_SET_CONTEXT = text(
    "SELECT set_config('maestro.tenant_id', :tenant_id, true), set_config('maestro.platform', :platform, true)"
)


def create_engine(
    settings: Settings, *, pool_size: int | None = None, max_overflow: int | None = None, name: str | None = None
) -> AsyncEngine:
    """The service role's connection pool: the settings' sizes, or those given (the authentication lookups' own)."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size if pool_size is None else pool_size,
        max_overflow=settings.database_max_overflow if max_overflow is None else max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        # A pooled connection that died (a Patroni failover, HAProxy restarted) is found at checkout and replaced,
        # so no request fails on it; the cost is one round trip per checkout.
        pool_pre_ping=True,
        connect_args={"application_name": name or settings.service_name},
    )


_TENANT_SCOPE = "maestro.tenant_scope"


class TenantSession(Session):
    """A session whose every transaction is scoped to the tenant recorded by ``scope_session`` (if any)."""


@event.listens_for(TenantSession, "after_begin")
def _apply_tenant_scope(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    params: dict[str, Any] | None = session.info.get(_TENANT_SCOPE)
    if params is not None:
        connection.execute(_SET_CONTEXT, params)


_AUDIT_KEY = "maestro.audit_key"


def create_sessionmaker(engine: AsyncEngine, *, audit_key: AuditKey | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; ``audit_key`` signs the audit events they write (without one they write none)."""
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        autoflush=False,
        sync_session_class=TenantSession,
        info={_AUDIT_KEY: audit_key} if audit_key is not None else None,
    )


def session_audit_key(session: AsyncSession) -> AuditKey | None:
    """The audit key ``session``'s sessionmaker carries."""
    key: AuditKey | None = session.info.get(_AUDIT_KEY)
    return key


def scope_session(session: AsyncSession, *, tenant_id: uuid.UUID, platform: bool = False) -> None:
    """Scope every transaction ``session`` begins from now on to ``tenant_id``, without taking a connection:
    the context is set on the connection when the transaction's first statement takes one."""
    session.info[_TENANT_SCOPE] = {"tenant_id": str(tenant_id), "platform": "on" if platform else "off"}


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


# Whether the connected role could change what the service must not: it owns the audit table (or may act as its
# owner), is a superuser, or bypasses row-level security.
_OWNER_LIKE = text(
    "SELECT r.rolsuper OR r.rolbypassrls OR coalesce(pg_has_role(current_user, c.relowner, 'MEMBER'), false) "
    "FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('public.audit_events') "
    "WHERE r.rolname = current_user"
)


async def refuse_owner_credentials(engine: AsyncEngine) -> None:
    """Raise ``RuntimeError`` when ``engine``'s role owns the tables, is a superuser or bypasses RLS (the serving
    process must hold none of those: they can disable the audit trigger and RLS)."""
    async with engine.connect() as conn:
        owner_like = (await conn.execute(_OWNER_LIKE)).scalar()
        await conn.rollback()
    if owner_like:
        raise RuntimeError(
            "refusing to start: MAESTRO_DATABASE_URL logs in as the table owner, a superuser or a role that "
            "bypasses row-level security; give the service its own role (docs/api.md)"
        )
