"""Liveness, readiness and Prometheus metrics: unauthenticated, outside /v1."""

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from maestro_api.core.lifecycle import READINESS_CHECKS, register_readiness_check
from maestro_api.metrics import DB_POOL_CONNECTIONS, DB_POOL_SIZE, REGISTRY
from maestro_api.schemas import Health, Readiness

router = APIRouter(tags=["health"])
READINESS_TIMEOUT_SECONDS = 2.0


async def check_database(app: object) -> None:
    async with app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        await conn.execute(text("SELECT 1"))


async def check_redis(app: object) -> None:
    if not await app.state.redis.ping():  # type: ignore[attr-defined]
        raise RuntimeError("redis did not answer PING")


register_readiness_check("database", check_database)
register_readiness_check("redis", check_redis)


@router.get("/healthz")
async def healthz() -> Health:
    """Liveness: the process serves requests (no dependencies checked)."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Readiness}})
async def readyz(request: Request, response: Response) -> Readiness:
    """Readiness: every registered check (database, Redis, and what other parts add) passes."""

    async def run(check: object) -> str:
        try:
            await asyncio.wait_for(check(request.app), READINESS_TIMEOUT_SECONDS)  # type: ignore[operator]
        except Exception as exc:
            return f"failed: {type(exc).__name__}"
        return "ok"

    names = list(READINESS_CHECKS)
    results = await asyncio.gather(*(run(READINESS_CHECKS[n]) for n in names))
    checks = dict(zip(names, results, strict=True))
    ready = all(r == "ok" for r in results)
    response.status_code = 200 if ready else 503
    return Readiness(status="ready" if ready else "not ready", checks=checks)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's metrics."""
    pool = request.app.state.engine.pool
    DB_POOL_SIZE.set(pool.size())
    DB_POOL_CONNECTIONS.labels(state="in_use").set(pool.checkedout())
    DB_POOL_CONNECTIONS.labels(state="idle").set(pool.checkedin())
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
