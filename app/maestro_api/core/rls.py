"""Row-level security helpers for migrations (core and registry use the same policy shape).

Usage in an Alembic revision::

    from maestro_api.core.rls import enable_tenant_rls

    for statement in enable_tenant_rls("deployments"):
        op.execute(statement)

Every tenant-owned table carries ``tenant_id uuid NOT NULL``; its policy compares it with the transaction's
``maestro.tenant_id`` (set by ``SessionDep``). With no tenant set, a query sees no rows at all. RLS is FORCED, so
even the table owner is subject to it.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
CURRENT_TENANT = "NULLIF(current_setting('maestro.tenant_id', true), '')::uuid"
PLATFORM_SCOPE = "current_setting('maestro.platform', true) = 'on'"


def quote_ident(name: str) -> str:
    """A safe SQL identifier (role and table names come from settings and code, still never trusted blindly)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def current_service_role() -> str:
    """The service role a running migration grants to (set by ``maestro-api migrate`` in Alembic's config)."""
    from alembic import context

    role = context.config.attributes.get("service_role")
    if not role:
        raise RuntimeError("no service role in the Alembic config: run migrations through `maestro-api migrate`")
    return str(role)


def enable_tenant_rls(
    table: str,
    *,
    tenant_column: str = "tenant_id",
    service_role: str | None = None,
    privileges: str = "SELECT, INSERT, UPDATE, DELETE",
    platform_scope: bool = False,
) -> list[str]:
    """SQL that enables and forces RLS on ``table``, adds the tenant policy and grants ``privileges`` to the
    service role.

    Args:
        table: the tenant-owned table.
        tenant_column: the column holding the owning tenant's id.
        service_role: the role to grant to; defaults to the one ``maestro-api migrate`` passes in.
        privileges: what the service role may do (audit tables get only SELECT, INSERT).
        platform_scope: also let platform-admin transactions (``maestro.platform = on``) see every tenant's rows.
    """
    t = quote_ident(table)
    col = quote_ident(tenant_column)
    role = quote_ident(service_role or current_service_role())
    condition = f"{col} = {CURRENT_TENANT}"
    if platform_scope:
        condition = f"({condition} OR {PLATFORM_SCOPE})"
    return [
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {quote_ident(table + '_tenant_isolation')} ON {t} USING ({condition}) WITH CHECK ({condition})",
        f"REVOKE ALL ON {t} FROM PUBLIC",
        f"GRANT {privileges} ON {t} TO {role}",
    ]
