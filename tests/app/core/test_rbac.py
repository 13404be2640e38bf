"""The RBAC matrix itself, and the generated docs table."""

from maestro_api.core import rbac

from maestro.paths import ROOT


def test_five_roles_and_at_least_35_permissions() -> None:
    assert rbac.ROLES == ("viewer", "data-scientist", "ml-engineer", "tenant-admin", "platform-admin")
    assert len(rbac.PERMISSIONS) >= 35
    assert all(":" in p for p in rbac.PERMISSIONS)


def test_roles_are_nested_and_only_platform_admin_manages_tenants() -> None:
    for lower, higher in zip(rbac.ROLES, rbac.ROLES[1:], strict=False):
        assert rbac.MATRIX[lower] < rbac.MATRIX[higher]
    assert rbac.MATRIX["platform-admin"] == frozenset(rbac.PERMISSIONS)
    for perm in ("tenants:create", "tenants:update", "tenants:delete", "quotas:update"):
        assert [r for r in rbac.ROLES if rbac.is_allowed(r, perm)] == ["platform-admin"]


def test_is_allowed_both_ways() -> None:
    assert rbac.is_allowed("viewer", "models:read")
    assert not rbac.is_allowed("viewer", "models:create")
    assert rbac.is_allowed("data-scientist", "runs:create")
    assert not rbac.is_allowed("data-scientist", "aliases:set")
    assert rbac.is_allowed("ml-engineer", "deployments:route")
    assert not rbac.is_allowed("ml-engineer", "audit:read")
    assert rbac.is_allowed("tenant-admin", "audit:read")
    assert not rbac.is_allowed("nobody", "roles:read")


def test_can_grant_only_up_to_own_role() -> None:
    assert rbac.can_grant("tenant-admin", "ml-engineer")
    assert rbac.can_grant("tenant-admin", "tenant-admin")
    assert not rbac.can_grant("tenant-admin", "platform-admin")
    assert not rbac.can_grant("viewer", "data-scientist")


def test_docs_rbac_md_is_generated_from_the_matrix() -> None:
    committed = (ROOT / "docs" / "rbac.md").read_text()
    assert committed == rbac.render_markdown(), "docs/rbac.md drifted: run `make rbac-docs`"
    assert "| `deployments:route` | - | - | yes | yes | yes |" in committed
