"""The migration helper's SQL (its effect on a real server: tests/app/api/routes/test_tenant_isolation_servers.py)."""

import pytest
from maestro_api.core.rls import enable_tenant_rls, quote_ident


def test_enable_tenant_rls_enables_forces_and_grants() -> None:
    sql = enable_tenant_rls("deployments", service_role="maestro_app")
    assert 'ALTER TABLE "deployments" ENABLE ROW LEVEL SECURITY' in sql
    assert 'ALTER TABLE "deployments" FORCE ROW LEVEL SECURITY' in sql
    policy = next(s for s in sql if s.startswith("CREATE POLICY"))
    assert "current_setting('maestro.tenant_id', true)" in policy and "maestro.platform" not in policy
    assert sql[-1] == 'GRANT SELECT, INSERT, UPDATE, DELETE ON "deployments" TO "maestro_app"'


def test_platform_scope_is_opt_in() -> None:
    sql = enable_tenant_rls("tenants", tenant_column="id", service_role="svc", platform_scope=True)
    assert any("maestro.platform" in s for s in sql)


@pytest.mark.parametrize("bad", ["x; DROP TABLE y", "Robert'", "a b", ""])
def test_identifiers_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        quote_ident(bad)
