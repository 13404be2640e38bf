"""Revision 0004_identity on real PostgreSQL, from a database at 0003 with keys made the old way: keys are bound to
the user who made them (an OIDC subject in the directory, or transitively a key so bound), the others stay unbound;
old audit events stay plain (key_id NULL); the downgrade restores 0003's lookup, and upgrading again works."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from maestro_api.core.config import Settings

from tests.app.conftest import DbRoles, make_settings, owner_url
from tests.servers import PgServer

pytestmark = pytest.mark.servers


def alembic(settings: Settings, roles: DbRoles) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "maestro_api:migrations")
    cfg.set_main_option("sqlalchemy.url", owner_url(settings, roles).replace("%", "%%"))
    cfg.attributes["service_role"] = settings.service_role
    return cfg


def test_existing_keys_are_bound_to_their_creators(
    pg_server: PgServer, migrated_db: str, db_roles: DbRoles, redis_url: str
) -> None:
    settings = make_settings(pg_server, migrated_db, db_roles, redis_url)
    cfg = alembic(settings, db_roles)
    command.upgrade(cfg, "0003_registry_integrity")
    tenant, ada, admin_key, ada_key, child_key, loose_key = (uuid.uuid4() for _ in range(6))
    url = owner_url(settings, db_roles).replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT set_config('maestro.platform', 'on', false)")
        conn.execute("SELECT set_config('maestro.tenant_id', %s, false)", (str(tenant),))
        conn.execute("INSERT INTO tenants (id, name, tier) VALUES (%s, 'acme', 'free')", (tenant,))
        conn.execute(
            "INSERT INTO users (id, tenant_id, email, subject, role) VALUES (%s, %s, 'ada@acme.test', 'ada', 'viewer')",
            (ada, tenant),
        )
        keys: list[tuple[uuid.UUID, str]] = [
            (admin_key, "cli:bootstrap"),
            (ada_key, "oidc:ada"),  # made by ada, signed in with OIDC
            (child_key, f"api_key:{ada_key}"),  # made with ada's key
            (loose_key, f"api_key:{admin_key}"),  # made with the bootstrap key: no user to bind to
        ]
        for i, (key_id, created_by) in enumerate(keys):
            conn.execute(
                "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, created_by) "
                "VALUES (%s, %s, 'k', %s, '\\x00', 'viewer', %s)",
                (key_id, tenant, f"prefix0{i}", created_by),
            )
    command.upgrade(cfg, "head")

    def bound() -> dict[Any, Any]:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT set_config('maestro.tenant_id', %s, false)", (str(tenant),))
            return dict(conn.execute("SELECT id, user_id FROM api_keys").fetchall())

    assert bound() == {admin_key: None, ada_key: ada, child_key: ada, loose_key: None}
    # Down to 0002 and back: the old lookup is restored, the new one again.
    command.downgrade(cfg, "0003_registry_integrity")
    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'api_keys'")
        assert "user_id" not in {r[0] for r in columns}
    command.upgrade(cfg, "head")
    assert bound() == {admin_key: None, ada_key: ada, child_key: ada, loose_key: None}
