"""The RBAC matrix: five roles over named ``<resource>:<verb>`` permissions. This module is the only source;
``GET /v1/roles`` serves it and docs/rbac.md is generated from it (``make rbac-docs``).

Roles are ordered: each role holds every permission of the roles before it. A principal may only grant roles
up to its own (``can_grant``).
"""

from __future__ import annotations

from typing import Literal

Role = Literal["viewer", "data-scientist", "ml-engineer", "tenant-admin", "platform-admin"]
ROLES: tuple[Role, ...] = ("viewer", "data-scientist", "ml-engineer", "tenant-admin", "platform-admin")

# Every permission with a one-line description (the docs table and GET /v1/roles show it).
PERMISSIONS: dict[str, str] = {
    "roles:read": "Read the RBAC matrix.",
    "tenants:read": "Read tenants (own tenant; platform-admin: all).",
    "tenants:create": "Create tenants.",
    "tenants:update": "Change a tenant's name, tier or state.",
    "tenants:delete": "Delete a tenant.",
    "quotas:read": "Read a tenant's quotas.",
    "quotas:update": "Change a tenant's quotas.",
    "users:read": "List and read the tenant's users.",
    "users:invite": "Invite a user into the tenant.",
    "users:update": "Change a user's role or state.",
    "users:remove": "Remove a user from the tenant.",
    "api_keys:read": "List and read the tenant's API keys (never the secret).",
    "api_keys:create": "Create an API key (shown once).",
    "api_keys:revoke": "Revoke an API key.",
    "audit:read": "Read the tenant's audit events.",
    "experiments:read": "Read experiments.",
    "experiments:create": "Create experiments.",
    "experiments:update": "Rename or tag experiments.",
    "experiments:delete": "Delete experiments.",
    "runs:read": "Read runs, params and metrics.",
    "runs:create": "Create runs.",
    "runs:update": "Log to and update runs.",
    "runs:delete": "Delete runs.",
    "artifacts:read": "Download artifacts.",
    "artifacts:write": (
        "Upload artifacts (write-once) and delete them (those behind a registered version also need models:promote)."
    ),
    "models:read": "Read registered models.",
    "models:create": "Register models.",
    "models:update": "Rename, describe or tag registered models.",
    "models:delete": "Delete registered models.",
    "models:promote": "Promote a model version (stage/alias transitions that gate production).",
    "versions:read": "Read model versions.",
    "versions:create": "Create model versions.",
    "versions:update": "Describe or tag model versions.",
    "versions:delete": "Delete model versions.",
    "aliases:set": "Point a model alias at a version.",
    "aliases:delete": "Remove a model alias.",
    "deployments:read": "Read deployments.",
    "deployments:create": "Create deployments.",
    "deployments:update": "Change deployments.",
    "deployments:delete": "Delete deployments.",
    "deployments:route": "Change a deployment's A/B traffic split.",
}

_VIEWER = {
    "roles:read",
    "experiments:read",
    "runs:read",
    "artifacts:read",
    "models:read",
    "versions:read",
    "deployments:read",
}
_DATA_SCIENTIST = _VIEWER | {
    "experiments:create",
    "experiments:update",
    "runs:create",
    "runs:update",
    "artifacts:write",
    "models:create",
    "versions:create",
}
_ML_ENGINEER = _DATA_SCIENTIST | {
    "models:update",
    "versions:update",
    "aliases:set",
    "aliases:delete",
    "models:promote",
    "deployments:create",
    "deployments:update",
    "deployments:delete",
    "deployments:route",
}
_TENANT_ADMIN = _ML_ENGINEER | {
    "experiments:delete",
    "runs:delete",
    "models:delete",
    "versions:delete",
    "users:read",
    "users:invite",
    "users:update",
    "users:remove",
    "api_keys:read",
    "api_keys:create",
    "api_keys:revoke",
    "audit:read",
    "tenants:read",
    "quotas:read",
}
_PLATFORM_ADMIN = set(PERMISSIONS)

MATRIX: dict[str, frozenset[str]] = {
    "viewer": frozenset(_VIEWER),
    "data-scientist": frozenset(_DATA_SCIENTIST),
    "ml-engineer": frozenset(_ML_ENGINEER),
    "tenant-admin": frozenset(_TENANT_ADMIN),
    "platform-admin": frozenset(_PLATFORM_ADMIN),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    "viewer": "Reads everything in its tenant.",
    "data-scientist": "Also creates experiments, runs, models, versions and artifacts.",
    "ml-engineer": "Also sets aliases, promotes versions and manages deployments.",
    "tenant-admin": "Everything in its tenant, including deletes, users, API keys and the audit log.",
    "platform-admin": "Also creates and changes tenants and quotas across tenants.",
}


def is_allowed(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown roles hold nothing)."""
    return permission in MATRIX.get(role, frozenset())


def can_grant(granter: str, role: str) -> bool:
    """A principal may hand out its own role or a lesser one, never a higher one."""
    return granter in ROLES and role in ROLES and ROLES.index(role) <= ROLES.index(granter)


def render_markdown() -> str:
    """docs/rbac.md, generated from the matrix (``maestro-api rbac-docs``; a test fails when the file drifts)."""
    lines = [
        "# Maestro API: roles and permissions",
        "",
        "<!-- Generated from app/maestro_api/core/rbac.py by `make rbac-docs`. Do not edit by hand. -->",
        "",
        f"{len(ROLES)} roles, {len(PERMISSIONS)} permissions. `GET /v1/roles` returns the same matrix.",
        "",
        "| role | |",
        "|---|---|",
        *[f"| `{r}` | {ROLE_DESCRIPTIONS[r]} |" for r in ROLES],
        "",
        "| permission | " + " | ".join(ROLES) + " | description |",
        "|---|" + "---|" * len(ROLES) + "---|",
    ]
    for perm, desc in PERMISSIONS.items():
        cells = " | ".join("yes" if perm in MATRIX[r] else "-" for r in ROLES)
        lines.append(f"| `{perm}` | {cells} | {desc} |")
    return "\n".join(lines) + "\n"
