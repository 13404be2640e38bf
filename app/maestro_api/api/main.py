"""The API's routers: one include line per routes module (the registry adds its lines below the core's)."""

from fastapi import APIRouter

from maestro_api.api.routes import (
    api_keys,
    audit,
    deployments,
    experiments,
    health,
    mlflow_proxy,
    models,
    quotas,
    roles,
    runs,
    tenants,
    users,
)

api_router = APIRouter(prefix="/v1")
api_router.include_router(roles.router)
api_router.include_router(tenants.router)
api_router.include_router(quotas.router)
api_router.include_router(users.router)
api_router.include_router(api_keys.router)
api_router.include_router(audit.router)
# The model registry (MLflow behind it).
api_router.include_router(experiments.router)
api_router.include_router(runs.router)
api_router.include_router(models.router)
api_router.include_router(deployments.router)

# Unauthenticated, outside /v1: /healthz, /readyz, /metrics.
public_router = APIRouter()
public_router.include_router(health.router)
# The stock MLflow client's REST API at /mlflow (outside /v1; every route authenticates and authorizes itself).
public_router.include_router(mlflow_proxy.router)
