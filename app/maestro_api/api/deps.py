"""Request dependencies as ``Annotated`` aliases, so routes read like their signature::

    @router.get("/things/{id}")
    async def read_thing(id: UUID, session: SessionDep, principal: Annotated[Principal, Authorize("things:read")]): ...

    @router.patch("/things/{id}")
    async def update_thing(id: UUID, body: ThingUpdate, change: Annotated[Mutation, Audited("things:update")]): ...

- ``CurrentPrincipal``: authenticates the bearer credential (401 otherwise) and counts the request against the
  tenant's rate limits (429).
- ``SessionDep``: an ``AsyncSession`` in one transaction scoped to the principal's tenant (RLS), committed
  before the response is sent, rolled back on any error. The connection is taken by the first statement, so a
  route that calls MLflow first holds no connection during the call. A pool timeout anywhere answers 503 with
  ``Retry-After`` (``maestro_api.core.errors``).
- ``Authorize("<permission>")``: a route's permission; yields the principal. Denials are audited and answer 403.
- ``Audited("<permission>")``: the same check for a route that changes something; yields a ``Mutation`` that
  carries the principal, the permission and the request's transaction (``SessionDep``'s, owned here). The route
  names its ``target``; when it returns, the event ``<permission>`` / ``success`` is written in its transaction;
  when it raises a ``ProblemError``, the transaction rolls back and the outcome is written in a transaction of its
  own (``denied`` for a 403, ``failure`` otherwise). So every mutation that passes the check leaves one event.
- ``route_permissions``: the permissions a route's dependency tree requires (the RBAC walk and the docs).
- ``RedisDep``, ``SettingsDep``, ``SessionmakerDep``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from maestro_api.core.audit import AuditEntry, Outcome, record_audit, record_audit_separately
from maestro_api.core.config import Settings
from maestro_api.core.db import scope_session
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import PERMISSIONS, is_allowed
from maestro_api.core.security import Principal
from maestro_api.metrics import AUTHZ_DENIALS


class BearerScheme(HTTPBearer):
    """Declares the bearer scheme in the OpenAPI document (as ``HTTPBearer``); the credential itself is read by
    ``get_current_principal``, so this does not parse it a second time."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


_bearer = BearerScheme(
    auto_error=False, scheme_name="HTTPBearer", description="An API key (mst_...) or an OIDC access token."
)


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


def client_address(request: Request) -> str | None:
    """The caller's address as the HTTP middleware settled it (``maestro_api.core.http``)."""
    address = getattr(request.state, "client_address", None)
    return str(address) if address else (request.client.host if request.client else None)


async def get_current_principal(request: Request, _credentials: Annotated[None, Depends(_bearer)]) -> Principal:
    principal: Principal = await request.app.state.authenticator.authenticate(
        request.headers.get("authorization"), client=client_address(request)
    )
    request.state.principal = principal
    await request.app.state.rate_limiter.check(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


@asynccontextmanager
async def request_transaction(request: Request, principal: Principal) -> AsyncIterator[AsyncSession]:
    """The request's session: one transaction scoped to the principal's tenant, taken lazily (see module doc)."""
    async with get_sessionmaker(request)() as session, session.begin():
        scope_session(session, tenant_id=principal.tenant_id, platform=principal.role == "platform-admin")
        yield session


async def get_session(request: Request, principal: CurrentPrincipal) -> AsyncIterator[AsyncSession]:
    async with request_transaction(request, principal) as session:
        yield session


# scope="function": commit before the response is sent, so a 2xx always means "committed".
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class Requirement:
    """A route's permission, and the check behind ``Authorize`` and ``Audited``: allow, or audit the denial and
    answer 403."""

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}: add it to maestro_api.core.rbac first")
        self.permission = permission

    async def check(self, request: Request, principal: Principal) -> None:
        if is_allowed(principal.role, self.permission):
            return
        AUTHZ_DENIALS.labels(permission=self.permission).inc()
        target = f"{request.method} {request.url.path}"
        await record_audit_separately(
            get_sessionmaker(request), AuditEntry(principal, self.permission, target, "denied", request)
        )
        raise ProblemError(403, "Forbidden", f"Role {principal.role!r} lacks the permission {self.permission!r}.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.permission!r})"


class PermissionCheck(Requirement):
    """The callable behind ``Authorize``: yields the principal once the check passes."""

    async def __call__(self, request: Request, principal: CurrentPrincipal) -> Principal:
        await self.check(request, principal)
        return principal


@dataclass
class Mutation:
    """A change in progress: who makes it, under which permission (the audit event's action), in which
    transaction, and on what: the route sets ``target`` (``model:churn``) once it knows it; until then the event
    names the request (``PATCH /v1/models/churn``)."""

    principal: Principal
    permission: str
    session: AsyncSession
    target: str

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.principal.tenant_id


class AuditedCheck(Requirement):
    """The callable behind ``Audited``: the check, then the request's transaction and its one audit event."""

    async def __call__(self, request: Request, principal: CurrentPrincipal) -> AsyncIterator[Mutation]:
        await self.check(request, principal)
        mutation: Mutation | None = None
        try:
            async with request_transaction(request, principal) as session:
                target = f"{request.method} {request.url.path}"
                mutation = Mutation(principal=principal, permission=self.permission, session=session, target=target)
                yield mutation
                await record_audit(session, AuditEntry(principal, self.permission, mutation.target, "success", request))
        except Exception as exc:
            # A body that does not match the schema never reached the route: nothing was changed, no event.
            if mutation is None or isinstance(exc, RequestValidationError):
                raise
            # The request's transaction has rolled back (and let its connection go), its success event with it, while
            # what the route changed outside it (in MLflow) may stand: the outcome gets a transaction of its own. Any
            # error counts (a crash, a failed commit), so every mutation leaves exactly one event.
            outcome: Outcome = "denied" if isinstance(exc, ProblemError) and exc.status == 403 else "failure"
            await record_audit_separately(
                get_sessionmaker(request), AuditEntry(principal, self.permission, mutation.target, outcome, request)
            )
            raise


class Requires(DependsParam):
    """A dependency that requires a permission, named once as ``.permission`` (the RBAC walk and the docs)."""

    @property
    def permission(self) -> str:
        assert isinstance(self.dependency, Requirement)
        return self.dependency.permission


class Authorize(Requires):
    """``Authorize("models:read")``: requires a permission and yields the principal.

    Use as ``principal: Annotated[Principal, Authorize(...)]`` or in ``dependencies=[Authorize(...)]``."""

    def __init__(self, permission: str, **_: Any) -> None:
        super().__init__(dependency=PermissionCheck(permission))


class Audited(Requires):
    """``Audited("models:update")``: requires a permission and yields the request's ``Mutation`` (see the module
    docstring): ``change: Annotated[Mutation, Audited(...)]``. Function-scoped: the event is written, and the
    transaction committed, before the response is sent."""

    def __init__(self, permission: str, **_: Any) -> None:
        super().__init__(dependency=AuditedCheck(permission), scope="function")


def route_permissions(dependant: Any) -> set[str]:
    """Every permission a route's dependency tree requires (used by the RBAC walk and the docs)."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        if isinstance(d.call, Requirement):
            found.add(d.call.permission)
        stack.extend(d.dependencies)
    return found
