"""The registry's quotas, enforced atomically: ``max_models`` (registered models, in MLflow) and ``max_deployments``
(deployments, in Maestro's database), on ``/v1`` and on the ``/mlflow`` proxy alike.

Atomic means no number of concurrent creates gets past the limit. Each create takes the tenant's row of
``quotas`` with ``SELECT ... FOR UPDATE`` in the transaction that makes the change and holds it until that
transaction ends: so creates of one tenant are serialised, each counts what exists (deployments in the same
transaction; registered models in the tenant's MLflow workspace, after the previous create's MLflow call has
answered) and refuses when the count has reached the limit. Registered models are counted in MLflow, the one
truth: a model deleted or renamed by any path is counted right, and there is no second count to drift.

The cost: a model create holds one database connection and the tenant's quota row while MLflow counts and creates
(two calls; more only past 1,000 models). So that a burst of creates cannot drain the pool, the creates of one
tenant also queue on a lock in the process (``model_slot``) before they take a connection: per tenant, each
process holds at most one connection for them (two for a moment, while the previous one commits). Creates of
other tenants, and every other request, are not affected.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from maestro_api.crud import lock_quota, quota_exceeded
from maestro_api.registry import operations as ops
from maestro_api.registry.deployments import Deployment
from maestro_api.registry.service import RegistryService

_PAGE = 1000  # MLflow's largest page of registered models


async def take_deployment(session: AsyncSession, *, tenant_id: uuid.UUID) -> None:
    """Refuse unless one more deployment fits; the caller inserts it in ``session``'s transaction."""
    quota = await lock_quota(session, tenant_id)
    if quota is None:
        return
    existing = await session.scalar(
        select(func.count()).select_from(Deployment).where(Deployment.tenant_id == tenant_id)
    )
    if (existing or 0) >= quota.max_deployments:
        raise quota_exceeded("max_deployments", quota.max_deployments)


# One lock per tenant and event loop (a lock belongs to the loop it first waited in; a process serves on one).
_MODEL_LOCKS: dict[tuple[int, uuid.UUID], asyncio.Lock] = {}


@asynccontextmanager
async def model_slot(session: AsyncSession, registry: RegistryService, *, tenant_id: uuid.UUID) -> AsyncIterator[None]:
    """Refuse unless one more registered model fits; inside the block the caller creates it in MLflow, and
    ``session``'s transaction (holding the quota row) ends after it."""
    key = (id(asyncio.get_running_loop()), tenant_id)
    async with _MODEL_LOCKS.setdefault(key, asyncio.Lock()):
        quota = await lock_quota(session, tenant_id)
        if quota is not None and await count_models(registry, tenant_id=tenant_id, up_to=quota.max_models) >= (
            quota.max_models
        ):
            raise quota_exceeded("max_models", quota.max_models)
        yield


async def count_models(registry: RegistryService, *, tenant_id: uuid.UUID, up_to: int) -> int:
    """The tenant's registered models in MLflow, counted up to ``up_to`` (enough to compare with a limit)."""
    seen, token = 0, None
    while seen < up_to:
        page = orjson.loads(
            await registry.run(
                ops.SEARCH_MODELS, tenant_id, fresh=True, max_results=min(_PAGE, up_to - seen), page_token=token
            )
        )
        seen += len(page["items"])
        token = page["next_page_token"]
        if not token:
            break
    return seen
