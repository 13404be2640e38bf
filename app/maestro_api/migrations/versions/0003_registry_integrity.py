"""Registry integrity: write-once claims on artifact paths, per tenant.

A row (tenant, ``file``, path) says the path was written through the API once; writing it again is refused. A row
(tenant, ``dir``, directory) says the files that already existed in that directory when the API first wrote into
it have their own ``file`` rows (written before this table existed, or outside the API).

Revision ID: 0003_registry_integrity
Revises: 0002_deployments
"""

from __future__ import annotations

from alembic import op

from maestro_api.core.rls import enable_tenant_rls

revision = "0003_registry_integrity"
down_revision = "0002_deployments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE artifact_claims (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('file', 'dir')),
            -- relative to the tenant's MLflow workspace, as the artifact routes name it (normalised by the API)
            path text NOT NULL CHECK (octet_length(path) <= 1024),
            claimed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, kind, path)
        )
        """
    )
    # No UPDATE: a claim is taken or released, never changed.
    for statement in enable_tenant_rls("artifact_claims", privileges="SELECT, INSERT, DELETE"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS artifact_claims")
