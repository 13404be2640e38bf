"""Request and response schemas of the core resources, split into Create / Update / Public.

Every schema forbids unknown fields (``Schema``); the registry's schemas derive from it too.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from maestro_api.core.config import Tier
from maestro_api.core.rbac import Role

TENANT_NAME = r"^[a-z0-9][a-z0-9-]{1,62}$"
# Explicit classes rather than \s: the pattern must mean the same to Python and to JSON Schema clients.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
EMAIL = r"^[^@\x00-\x20\x7f-\x9f]{1,64}@[^@\x00-\x20\x7f-\x9f]{1,255}$"


class Schema(BaseModel):
    """Base of every API schema: unknown fields are a 422, never silently dropped."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it here as a 422 rather than fail in the database.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


# --- roles -----------------------------------------------------------------------------------------------------
class RolePublic(Schema):
    name: Role
    description: str
    permissions: list[str]


class PermissionPublic(Schema):
    name: str
    description: str


class RolesPublic(Schema):
    roles: list[RolePublic]
    permissions: list[PermissionPublic]


# --- tenants and quotas ----------------------------------------------------------------------------------------
class TenantCreate(Schema):
    name: str = Field(pattern=TENANT_NAME, description="Lower-case DNS-style name, unique.")
    tier: Tier = Field(default="free", description="Rate-limit and quota tier.")


class TenantUpdate(Schema):
    tier: Tier | None = None
    active: bool | None = Field(default=None, description="False suspends the tenant: its credentials get 401.")


class TenantPublic(Schema):
    id: uuid.UUID
    name: str
    tier: Tier
    active: bool
    created_at: datetime


class QuotaUpdate(Schema):
    max_users: int | None = Field(default=None, ge=0, le=1_000_000)
    max_api_keys: int | None = Field(default=None, ge=0, le=1_000_000)
    max_models: int | None = Field(default=None, ge=0, le=1_000_000)
    max_deployments: int | None = Field(default=None, ge=0, le=1_000_000)


class QuotaPublic(Schema):
    tenant_id: uuid.UUID
    max_users: int
    max_api_keys: int
    max_models: int
    max_deployments: int
    updated_at: datetime


# --- users -----------------------------------------------------------------------------------------------------
class UserCreate(Schema):
    email: str = Field(pattern=EMAIL, max_length=320)
    role: Role = "viewer"
    subject: str | None = Field(default=None, max_length=255, pattern=PRINTABLE, description="OIDC `sub` once known.")


class UserUpdate(Schema):
    role: Role | None = None
    disabled: bool | None = None


class UserPublic(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    subject: str | None
    role: Role
    disabled: bool
    created_at: datetime


# --- API keys --------------------------------------------------------------------------------------------------
class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=100, pattern=PRINTABLE)
    role: Role = "viewer"
    expires_at: datetime | None = Field(default=None, description="UTC expiry; none = until revoked.")
    user_id: uuid.UUID | None = Field(
        default=None,
        description="The user the key acts for (it follows that user's state and role). Default: the caller's own "
        "user; required when the caller has none (a bootstrap key, an OIDC subject outside the directory).",
    )


class ApiKeyPublic(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    role: Role
    user_id: uuid.UUID | None = Field(description="The user the key acts for; null only for bootstrap keys.")
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself. Shown only in this response; store it now.")


# --- audit -----------------------------------------------------------------------------------------------------
class AuditEventPublic(Schema):
    id: int
    tenant_id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    request_id: str
    client_address: str
    prev_hash: str
    hash: str
    key_id: str | None = Field(description="Id of the audit key the hash is an HMAC under; null: plain SHA-256.")


class AuditEventPage(Schema):
    items: list[AuditEventPublic]
    next_before_seq: int | None = Field(default=None, description="Pass as `before_seq` for the next (older) page.")


# --- health ----------------------------------------------------------------------------------------------------
class Health(Schema):
    status: str


class Readiness(Schema):
    status: str = Field(description="`ready` or `not ready`; which check failed is logged, never answered.")
