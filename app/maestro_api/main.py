"""``create_app()``: the FastAPI application with its middleware, error handlers, telemetry and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter

from maestro_api.api.dispatch import DirectReads, direct_routes
from maestro_api.api.main import include_routes
from maestro_api.core.config import Settings, get_settings
from maestro_api.core.db import create_engine, create_sessionmaker, refuse_owner_credentials
from maestro_api.core.errors import install_error_handlers
from maestro_api.core.http import HttpHygieneMiddleware
from maestro_api.core.lifecycle import LIFESPAN_HOOKS
from maestro_api.core.ratelimit import RateLimiter
from maestro_api.core.security import Authenticator
from maestro_api.core.telemetry import configure_logging, create_tracer_provider
from maestro_api.metrics import DB_POOL_SIZE

API_TITLE = "Maestro API"
API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    """Build the app. Resources (DB pool, Redis, HTTP client) are created in the lifespan, on the serving loop.

    Args:
        settings: defaults to the environment's settings.
        span_exporter: export spans here instead of OTLP (tests).
    """
    settings = settings or get_settings()
    configure_logging(settings)
    provider = create_tracer_provider(settings, exporter=span_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        redis = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
        )
        http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine, audit_key=settings.audit_signing_key)
        app.state.redis = redis
        app.state.http = http
        app.state.rate_limiter = RateLimiter(settings=settings, redis=redis)
        app.state.authenticator = Authenticator(settings=settings, http=http, limiter=app.state.rate_limiter)
        DB_POOL_SIZE.set(settings.database_pool_size)
        try:
            if settings.environment != "dev":
                await refuse_owner_credentials(engine)
            async with AsyncExitStack() as stack:
                for hook in LIFESPAN_HOOKS:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            await app.state.authenticator.aclose()
            await http.aclose()
            await redis.aclose()
            await engine.dispose()
            if provider is not None:
                provider.force_flush()
                provider.shutdown()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description="Multi-tenant model registry API in front of MLflow: RBAC, tenants, API keys / OIDC, "
        "rate limits, audit log. Errors are RFC 9457 application/problem+json.",
        lifespan=lifespan,
        docs_url=None,  # the strict CSP forbids the Swagger UI's scripts; /openapi.json is served
        redoc_url=None,
        # HttpHygieneMiddleware makes the request span and the HTTP metrics; FastAPI's own telemetry would
        # duplicate them (and costs a provider check on every request even when nothing is configured).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.tracer_provider = provider
    install_error_handlers(app)
    include_routes(app)
    # Inner to outer: the direct reads are served inside the hygiene middleware (headers, body limit, metrics, span).
    app.add_middleware(DirectReads, routes=direct_routes(app.routes))
    app.add_middleware(
        HttpHygieneMiddleware,
        settings=settings,
        tracer=provider.get_tracer("maestro_api") if provider is not None else None,
    )
    return app
