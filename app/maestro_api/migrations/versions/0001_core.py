"""The core schema: tenants, quotas, users, API keys, the hash-chained audit log, RLS on all of them.

Revision ID: 0001_core
Revises:
"""

from __future__ import annotations

from alembic import op

from maestro_api.core.rls import current_service_role, enable_tenant_rls, quote_ident

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

# The lookups that authentication needs before any tenant is known. They run as the owner (SECURITY DEFINER)
# and switch `maestro.auth_lookup` on only around their one query; the extra SELECT policies below admit that.
AUTH_LOOKUP = "current_setting('maestro.auth_lookup', true) = 'on'"


def upgrade() -> None:
    role = quote_ident(current_service_role())
    op.execute(
        """
        CREATE TABLE tenants (
            id uuid PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
            tier text NOT NULL CHECK (tier IN ('free', 'standard', 'premium', 'enterprise')),
            active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE quotas (
            tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
            max_users integer NOT NULL CHECK (max_users >= 0),
            max_api_keys integer NOT NULL CHECK (max_api_keys >= 0),
            max_models integer NOT NULL CHECK (max_models >= 0),
            max_deployments integer NOT NULL CHECK (max_deployments >= 0),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE users (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            email text NOT NULL,
            subject text,
            role text NOT NULL,
            disabled boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (tenant_id, email)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE api_keys (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name text NOT NULL,
            prefix text NOT NULL UNIQUE,
            key_hash bytea NOT NULL,
            role text NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz,
            revoked_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id)")
    # No foreign key to tenants: the audit trail outlives a deleted tenant.
    op.execute(
        """
        CREATE TABLE audit_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant_id uuid NOT NULL,
            seq bigint NOT NULL,
            occurred_at timestamptz NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            target text NOT NULL,
            outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
            request_id text NOT NULL,
            client_address text NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL,
            UNIQUE (tenant_id, seq)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE audit_chain_heads (
            tenant_id uuid PRIMARY KEY,
            seq bigint NOT NULL,
            hash text NOT NULL
        )
        """
    )
    # Append-only for everyone, the owner included; only a superuser disabling the trigger can change history,
    # and `maestro-api audit verify` detects it.
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )

    for statement in [
        *enable_tenant_rls("tenants", tenant_column="id", platform_scope=True),
        *enable_tenant_rls("quotas", platform_scope=True),
        *enable_tenant_rls("users"),
        *enable_tenant_rls("api_keys"),
        *enable_tenant_rls("audit_events", privileges="SELECT, INSERT", platform_scope=True),
        *enable_tenant_rls("audit_chain_heads", privileges="SELECT, INSERT, UPDATE", platform_scope=True),
    ]:
        op.execute(statement)

    op.execute(f"CREATE POLICY tenants_auth_lookup ON tenants FOR SELECT USING ({AUTH_LOOKUP})")
    op.execute(f"CREATE POLICY api_keys_auth_lookup ON api_keys FOR SELECT USING ({AUTH_LOOKUP})")
    op.execute(
        """
        CREATE FUNCTION maestro_api_key_lookup(p_prefix text)
        RETURNS TABLE (key_id uuid, tenant_id uuid, tenant_name text, tier text, tenant_active boolean, role text,
                       key_hash bytea, expires_at timestamptz, revoked_at timestamptz)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
        #variable_conflict use_column
        BEGIN
            PERFORM set_config('maestro.auth_lookup', 'on', true);
            RETURN QUERY
                SELECT k.id, k.tenant_id, t.name, t.tier, t.active, k.role, k.key_hash, k.expires_at, k.revoked_at
                FROM public.api_keys k JOIN public.tenants t ON t.id = k.tenant_id
                WHERE k.prefix = p_prefix;
            PERFORM set_config('maestro.auth_lookup', 'off', true);
        END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION maestro_tenant_lookup(p_name text)
        RETURNS TABLE (tenant_id uuid, tier text, active boolean)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
        #variable_conflict use_column
        BEGIN
            PERFORM set_config('maestro.auth_lookup', 'on', true);
            RETURN QUERY SELECT t.id, t.tier, t.active FROM public.tenants t WHERE t.name = p_name;
            PERFORM set_config('maestro.auth_lookup', 'off', true);
        END
        $$
        """
    )
    for function in ("maestro_api_key_lookup(text)", "maestro_tenant_lookup(text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS maestro_tenant_lookup(text)")
    op.execute("DROP FUNCTION IF EXISTS maestro_api_key_lookup(text)")
    op.execute("DROP TABLE IF EXISTS audit_chain_heads")
    op.execute("DROP TABLE IF EXISTS audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.execute("DROP TABLE IF EXISTS api_keys")
    op.execute("DROP TABLE IF EXISTS users")
    op.execute("DROP TABLE IF EXISTS quotas")
    op.execute("DROP TABLE IF EXISTS tenants")
