"""Identity: API keys bound to the user they act for, the tenant's directory in the OIDC lookup, keyed audit events.

- ``api_keys.user_id``: the user a key acts for (NULL only for keys of ``maestro-api bootstrap``). The key follows
  that user: refused while the user is disabled, capped at the user's current role, deleted with the user (the
  foreign key cascades). Existing keys are bound where their ``created_by`` names a user: an OIDC subject with a
  directory entry, or a key that is (transitively) bound.
- ``users (tenant_id, subject)`` is unique where a subject is set: one directory entry per OIDC subject.
- ``maestro_api_key_lookup`` also returns the key's user (role, disabled); ``maestro_oidc_lookup`` returns the
  tenant and the subject's directory entry in one round trip.
- ``audit_events.key_id``: the id of the key an event's HMAC was made with; NULL marks the plain SHA-256 events
  written before keys existed (``maestro_api.core.audit``).

Revision ID: 0004_identity
Revises: 0003_registry_integrity
"""

from __future__ import annotations

from alembic import op

from maestro_api.core.rls import current_service_role, quote_ident

revision = "0004_identity"
down_revision = "0003_registry_integrity"
branch_labels = None
depends_on = None

AUTH_LOOKUP = "current_setting('maestro.auth_lookup', true) = 'on'"


def lookup_function(signature: str, query: str) -> str:
    """A lookup that authentication runs before any tenant is known: as the owner (SECURITY DEFINER), with
    ``maestro.auth_lookup`` on around its one query only (the ``*_auth_lookup`` policies admit that)."""
    return f"""
        CREATE FUNCTION {signature}
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
        #variable_conflict use_column
        BEGIN
            PERFORM set_config('maestro.auth_lookup', 'on', true);
            RETURN QUERY {query};
            PERFORM set_config('maestro.auth_lookup', 'off', true);
        END
        $$
        """


KEY_LOOKUP = lookup_function(
    """maestro_api_key_lookup(p_prefix text)
        RETURNS TABLE (key_id uuid, tenant_id uuid, tenant_name text, tier text, tenant_active boolean, role text,
                       key_hash bytea, expires_at timestamptz, revoked_at timestamptz,
                       user_id uuid, user_role text, user_disabled boolean)""",
    """SELECT k.id, k.tenant_id, t.name, t.tier, t.active, k.role, k.key_hash, k.expires_at, k.revoked_at,
                       k.user_id, u.role, u.disabled
                FROM public.api_keys k
                JOIN public.tenants t ON t.id = k.tenant_id
                LEFT JOIN public.users u ON u.id = k.user_id
                WHERE k.prefix = p_prefix""",
)
OIDC_LOOKUP = lookup_function(
    """maestro_oidc_lookup(p_tenant text, p_subject text)
        RETURNS TABLE (tenant_id uuid, tier text, active boolean,
                       user_id uuid, user_role text, user_disabled boolean)""",
    """SELECT t.id, t.tier, t.active, u.id, u.role, u.disabled
                FROM public.tenants t
                LEFT JOIN public.users u ON u.tenant_id = t.id AND u.subject = p_subject
                WHERE t.name = p_tenant""",
)
# The lookup of revision 0001 (unchanged through 0003), restored by the downgrade.
OLD_KEY_LOOKUP = lookup_function(
    """maestro_api_key_lookup(p_prefix text)
        RETURNS TABLE (key_id uuid, tenant_id uuid, tenant_name text, tier text, tenant_active boolean, role text,
                       key_hash bytea, expires_at timestamptz, revoked_at timestamptz)""",
    """SELECT k.id, k.tenant_id, t.name, t.tier, t.active, k.role, k.key_hash, k.expires_at, k.revoked_at
                FROM public.api_keys k JOIN public.tenants t ON t.id = k.tenant_id
                WHERE k.prefix = p_prefix""",
)
# Existing keys' users, from what created them: an OIDC subject in the directory, or a key bound that way.
BIND_EXISTING_KEYS = """
    WITH RECURSIVE bound(key_id, tenant_id, user_id) AS (
        SELECT k.id, k.tenant_id, u.id
        FROM api_keys k JOIN users u ON u.tenant_id = k.tenant_id AND k.created_by = 'oidc:' || u.subject
      UNION
        SELECT k.id, k.tenant_id, b.user_id
        FROM api_keys k JOIN bound b ON k.tenant_id = b.tenant_id AND k.created_by = 'api_key:' || b.key_id::text
    )
    UPDATE api_keys k SET user_id = b.user_id FROM bound b WHERE k.id = b.key_id AND k.user_id IS NULL
"""


def _grant_lookups(role: str) -> None:
    for function in ("maestro_api_key_lookup(text)", "maestro_oidc_lookup(text, text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")


def upgrade() -> None:
    role = quote_ident(current_service_role())
    op.execute("CREATE UNIQUE INDEX users_tenant_subject_key ON users (tenant_id, subject) WHERE subject IS NOT NULL")
    # A key's user is in the key's own tenant: the foreign key says so, not only the code.
    op.execute("ALTER TABLE users ADD CONSTRAINT users_tenant_id_id_key UNIQUE (tenant_id, id)")
    op.execute("ALTER TABLE api_keys ADD COLUMN user_id uuid")
    op.execute(
        "ALTER TABLE api_keys ADD CONSTRAINT api_keys_user_fkey FOREIGN KEY (tenant_id, user_id) "
        "REFERENCES users (tenant_id, id) ON DELETE CASCADE"
    )
    op.execute("CREATE INDEX api_keys_user_idx ON api_keys (user_id)")
    # The owner is subject to the (forced) tenant policies too: lift them for the one cross-tenant backfill, inside
    # this migration's transaction.
    op.execute("ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE users NO FORCE ROW LEVEL SECURITY")
    op.execute(BIND_EXISTING_KEYS)
    op.execute("ALTER TABLE api_keys FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE users FORCE ROW LEVEL SECURITY")

    op.execute(f"CREATE POLICY users_auth_lookup ON users FOR SELECT USING ({AUTH_LOOKUP})")
    op.execute("DROP FUNCTION maestro_api_key_lookup(text)")
    op.execute(KEY_LOOKUP)
    op.execute(OIDC_LOOKUP)
    _grant_lookups(role)

    op.execute("ALTER TABLE audit_events ADD COLUMN key_id text CHECK (key_id IS NULL OR key_id ~ '^[0-9a-f]{16}$')")


def downgrade() -> None:
    role = quote_ident(current_service_role())
    op.execute("ALTER TABLE audit_events DROP COLUMN IF EXISTS key_id")
    op.execute("DROP FUNCTION IF EXISTS maestro_oidc_lookup(text, text)")
    op.execute("DROP FUNCTION IF EXISTS maestro_api_key_lookup(text)")
    op.execute(OLD_KEY_LOOKUP)
    op.execute("REVOKE ALL ON FUNCTION maestro_api_key_lookup(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION maestro_api_key_lookup(text) TO {role}")
    op.execute("DROP POLICY IF EXISTS users_auth_lookup ON users")
    op.execute("DROP INDEX IF EXISTS api_keys_user_idx")
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_user_fkey")
    op.execute("ALTER TABLE api_keys DROP COLUMN IF EXISTS user_id")
    op.execute("ALTER TABLE users DROP CONSTRAINT IF EXISTS users_tenant_id_id_key")
    op.execute("DROP INDEX IF EXISTS users_tenant_subject_key")
