"""Liveness, readiness and Prometheus metrics, outside /v1.

They share the API's port, which the edge host reaches too (it proxies /v1 and /mlflow there), so they give
nothing away: ``/healthz`` and ``/readyz`` answer a status and nothing else (which readiness check failed is
logged and exported as ``maestro_readiness_check``), and ``/metrics`` asks for ``MAESTRO_METRICS_TOKEN`` as a
bearer token (Prometheus sends it) whenever it is set, which it must be outside dev.
"""

import asyncio
import hmac
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError
from maestro_api.core.lifecycle import READINESS_CHECKS, register_readiness_check
from maestro_api.metrics import AUTH_FAILURES, DB_POOL_CONNECTIONS, DB_POOL_SIZE, READINESS_CHECK, REGISTRY
from maestro_api.schemas import Health, Readiness

router = APIRouter(tags=["health"])
READINESS_TIMEOUT_SECONDS = 2.0
log = logging.getLogger("maestro_api.health")


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
    """Readiness: every registered check (database, Redis, and what other parts add) passes. The answer is the
    status only; a failed check is logged and set to 0 in ``maestro_readiness_check{check}``."""

    async def run(name: str) -> bool:
        try:
            await asyncio.wait_for(READINESS_CHECKS[name](request.app), READINESS_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            ok = False
        else:
            ok = True
        READINESS_CHECK.labels(check=name).set(1 if ok else 0)
        return ok

    results = await asyncio.gather(*(run(n) for n in list(READINESS_CHECKS)))
    ready = all(results)
    response.status_code = 200 if ready else 503
    return Readiness(status="ready" if ready else "not ready")


def _require_metrics_token(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        return
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), expected):
        AUTH_FAILURES.labels(reason="metrics_token").inc()
        raise ProblemError(
            401,
            "Unauthorized",
            "Send the metrics token: `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": 'Bearer realm="maestro-metrics"'},
        )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"description": "No or a wrong metrics token."}},
)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's metrics; needs ``Authorization: Bearer <MAESTRO_METRICS_TOKEN>``."""
    _require_metrics_token(request)
    pool = request.app.state.engine.pool
    DB_POOL_SIZE.set(pool.size())
    DB_POOL_CONNECTIONS.labels(state="in_use").set(pool.checkedout())
    DB_POOL_CONNECTIONS.labels(state="idle").set(pool.checkedin())
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
