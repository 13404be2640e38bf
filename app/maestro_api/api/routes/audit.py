"""The tenant's audit events, newest first."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from maestro_api.api.deps import Authorize, CurrentPrincipal, SessionDep
from maestro_api.core.errors import ProblemError
from maestro_api.models import AuditEvent
from maestro_api.schemas import AuditEventPage, AuditEventPublic

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", dependencies=[Authorize("audit:read")])
async def list_events(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Platform admins only: another tenant.")] = None,
) -> AuditEventPage:
    tenant = tenant_id or principal.tenant_id
    if tenant != principal.tenant_id and principal.role != "platform-admin":
        raise ProblemError(404, "Not Found", "No such tenant.")
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant).order_by(AuditEvent.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    items = [AuditEventPublic.model_validate(e) for e in await session.scalars(query)]
    next_before = items[-1].seq if len(items) == limit and items[-1].seq > 1 else None
    return AuditEventPage(items=items, next_before_seq=next_before)
