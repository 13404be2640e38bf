"""A/B deployments: the table's model, the request/response schemas and the service functions.

A deployment names 1..N model versions of its tenant with integer weights summing to 100. Rows are tenant-owned
(RLS on ``tenant_id``); the service also filters by tenant explicitly, so a bug in one layer is not a leak.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import DateTime, Text, Uuid, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from maestro_api.core.errors import ProblemError
from maestro_api.models import Base
from maestro_api.registry.ab import Variant, validate_weights

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_VARIANTS = 10


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VariantSpec(BaseModel):
    """One arm: a model version of the caller's tenant and its share of traffic."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="The variant's name (reported in routes and metrics).")
    model: str = Field(pattern=NAME_PATTERN, description="Registered model name in the caller's tenant.")
    version: str = Field(pattern=r"^[1-9][0-9]{0,9}$", description="Model version number.")
    weight: int = Field(ge=0, le=100, description="Percent of keys routed here; all weights sum to 100.")


class Variants(BaseModel):
    variants: list[VariantSpec] = Field(min_length=1, max_length=MAX_VARIANTS)

    @field_validator("variants")
    @classmethod
    def _weights_and_names(cls, variants: list[VariantSpec]) -> list[VariantSpec]:
        validate_weights([v.weight for v in variants])
        if len({v.name for v in variants}) != len(variants):
            raise ValueError("variant names must be unique")
        return variants


class DeploymentCreate(Variants):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="Unique per tenant.")
    description: str = Field(default="", max_length=2000)


class DeploymentVariantsUpdate(Variants):
    """Replace the variants (and so the weights) of a deployment."""

    model_config = ConfigDict(extra="forbid")


class DeploymentPublic(BaseModel):
    name: str
    description: str
    variants: list[VariantSpec]
    created_at: datetime
    updated_at: datetime


class DeploymentList(BaseModel):
    items: list[DeploymentPublic]


class RouteDecision(BaseModel):
    deployment: str
    key: str
    variant: str
    model: str
    version: str


def to_public(row: Deployment) -> DeploymentPublic:
    return DeploymentPublic(
        name=row.name,
        description=row.description,
        variants=[VariantSpec(**v) for v in row.variants],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def variants_of(row: Deployment) -> list[Variant]:
    return [Variant(name=str(v["name"]), weight=int(v["weight"])) for v in row.variants]


async def get_deployment(session: AsyncSession, *, tenant_id: uuid.UUID, name: str) -> Deployment:
    row = await session.scalar(select(Deployment).where(Deployment.tenant_id == tenant_id, Deployment.name == name))
    if row is None:
        raise ProblemError(404, "Not found", "No such deployment in this tenant.")
    return row


async def list_deployments(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[Deployment]:
    result = await session.scalars(
        select(Deployment).where(Deployment.tenant_id == tenant_id).order_by(Deployment.name).limit(1000)
    )
    return list(result)


async def create_deployment(session: AsyncSession, *, tenant_id: uuid.UUID, spec: DeploymentCreate) -> Deployment:
    exists = await session.scalar(
        select(Deployment.id).where(Deployment.tenant_id == tenant_id, Deployment.name == spec.name)
    )
    if exists is not None:
        raise ProblemError(409, "Conflict", f"A deployment named {spec.name!r} already exists.")
    row = Deployment(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=spec.name,
        description=spec.description,
        variants=[v.model_dump() for v in spec.variants],
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def replace_variants(
    session: AsyncSession, *, tenant_id: uuid.UUID, name: str, spec: DeploymentVariantsUpdate
) -> tuple[Deployment, list[dict[str, Any]]]:
    """Set new variants; returns the row and the previous variants (for the audit trail)."""
    row = await get_deployment(session, tenant_id=tenant_id, name=name)
    previous = list(row.variants)
    row.variants = [v.model_dump() for v in spec.variants]
    row.updated_at = datetime.now(tz=row.created_at.tzinfo)
    await session.flush()
    await session.refresh(row)
    return row, previous


async def delete_deployment(session: AsyncSession, *, tenant_id: uuid.UUID, name: str) -> None:
    row = await get_deployment(session, tenant_id=tenant_id, name=name)
    await session.delete(row)
    await session.flush()


def weights_summary(variants: list[dict[str, Any]]) -> str:
    """``a=90,b=10``: how an audit target records a weight change."""
    return ",".join(f"{v['name']}={v['weight']}" for v in variants)
