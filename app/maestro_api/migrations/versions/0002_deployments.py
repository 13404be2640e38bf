"""A/B deployments of the registry: one row per deployment, its variants (model version + weight) as JSON.

Revision ID: 0002_deployments
Revises: 0001_core
"""

from __future__ import annotations

from alembic import op

from maestro_api.core.rls import enable_tenant_rls

revision = "0002_deployments"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE deployments (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
            description text NOT NULL DEFAULT '',
            -- [{"name": "...", "model": "...", "version": "...", "weight": 0..100}, ...], weights sum to 100
            variants jsonb NOT NULL CHECK (jsonb_typeof(variants) = 'array' AND jsonb_array_length(variants) >= 1),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (tenant_id, name)
        )
        """
    )
    for statement in enable_tenant_rls("deployments"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS deployments")
