"""Request dependencies as ``Annotated`` aliases, so routes read like their signature::

    @router.get("/things/{id}", dependencies=[Authorize("things:read")])
    async def read_thing(id: UUID, session: SessionDep, principal: CurrentPrincipal) -> ThingPublic: ...

- ``CurrentPrincipal``: authenticates the bearer credential (401 otherwise) and counts the request against the
  tenant's rate limits (429).
- ``SessionDep``: an ``AsyncSession`` in one transaction scoped to the principal's tenant (RLS), committed
  before the response is sent, rolled back on any error. The connection is taken by the first statement, so a
  route that calls MLflow before it writes (its audit event) holds no connection during the call. A
  ``ProblemError`` in a mutating request is audited as ``failure`` in a separate transaction. A pool timeout
  anywhere answers 503 with ``Retry-After`` (``maestro_api.core.errors``).
- ``Authorize("<permission>")``: the route's permission; denials are audited and answer 403. ``.permission``
  names it (the RBAC walk test reads it).
- ``RedisDep``, ``SettingsDep``, ``SessionmakerDep``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from maestro_api.core.audit import record_audit_separately
from maestro_api.core.config import Settings
from maestro_api.core.db import scope_session
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import PERMISSIONS, is_allowed
from maestro_api.core.security import Principal
from maestro_api.metrics import AUTHZ_DENIALS

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Declares the scheme in the OpenAPI document; the credential itself is read by get_current_principal.
_bearer = HTTPBearer(auto_error=False, description="An API key (mst_...) or an OIDC access token.")


# Dependencies are ``async def`` even when they do no I/O: FastAPI runs a plain ``def`` dependency in its thread
# pool, a thread hop per dependency per request that cost more than the rest of a cached read.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_redis(request: Request) -> aioredis.Redis:
    client: aioredis.Redis = request.app.state.redis
    return client


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]


async def _sessionmaker_dep(request: Request) -> async_sessionmaker[AsyncSession]:
    return get_sessionmaker(request)


SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessionmaker_dep)]


async def get_current_principal(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    principal: Principal = await request.app.state.authenticator.authenticate(request.headers.get("authorization"))
    request.state.principal = principal
    await request.app.state.rate_limiter.check(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def get_session(request: Request, principal: CurrentPrincipal) -> AsyncIterator[AsyncSession]:
    maker = get_sessionmaker(request)
    try:
        async with maker() as session, session.begin():
            # Lazy: the connection is taken (and scoped to the tenant) by the first statement, not here.
            scope_session(session, tenant_id=principal.tenant_id, platform=principal.role == "platform-admin")
            yield session
    except ProblemError as exc:
        action = getattr(request.state, "permission", None)
        if request.method in MUTATING_METHODS and action and exc.status not in (401, 403, 429):
            await record_audit_separately(
                maker,
                principal=principal,
                action=action,
                target=f"{request.method} {request.url.path}",
                outcome="failure",
                request=request,
            )
        raise


# scope="function": commit before the response is sent, so a 2xx always means "committed".
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class _PermissionCheck:
    """The callable behind ``Authorize``: allow, or audit the denial and answer 403."""

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}: add it to maestro_api.core.rbac first")
        self.permission = permission

    async def __call__(self, request: Request, principal: CurrentPrincipal) -> Principal:
        request.state.permission = self.permission
        if is_allowed(principal.role, self.permission):
            return principal
        AUTHZ_DENIALS.labels(permission=self.permission).inc()
        await record_audit_separately(
            get_sessionmaker(request),
            principal=principal,
            action=self.permission,
            target=f"{request.method} {request.url.path}",
            outcome="denied",
            request=request,
        )
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} lacks the permission {self.permission!r}.")

    def __repr__(self) -> str:
        return f"Authorize({self.permission!r})"


class Authorize(DependsParam):
    """``Authorize("models:read")``: a FastAPI dependency that requires a permission and yields the principal.

    Use in ``dependencies=[Authorize(...)]`` or as ``principal: Annotated[Principal, Authorize(...)]``."""

    def __init__(self, permission: str, **_: Any) -> None:
        super().__init__(dependency=_PermissionCheck(permission))

    @property
    def permission(self) -> str:
        assert isinstance(self.dependency, _PermissionCheck)
        return self.dependency.permission


def route_permissions(dependant: Any) -> set[str]:
    """Every permission a route's dependency tree requires (used by the RBAC walk and the docs)."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        if isinstance(d.call, _PermissionCheck):
            found.add(d.call.permission)
        stack.extend(d.dependencies)
    return found
