"""The API's routes, in the order FastAPI's router tries them: one line per routes module.

- ``/mlflow``: the stock MLflow client's REST API and MLflow's web UI on one mount of their own (one prefix test
  decides between it and everything else; every route of it authenticates and authorizes itself: the client's by
  its bearer credential, the UI's by its browser session, ``maestro_api.ui``).
- ``/v1``: one router per resource, each included once under ``/v1`` (FastAPI matches a router included in a
  router once per level). The model registry's come first: its reads are the hot path.
- ``/healthz``, ``/readyz``, ``/metrics``: unauthenticated.

The registry's cached reads of one object are marked ``@direct`` and served ahead of the router
(``maestro_api.api.dispatch``).
"""

from fastapi import APIRouter, FastAPI

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
from maestro_api.core.errors import PROBLEM_RESPONSES
from maestro_api.ui import routes as ui

V1_ROUTERS = (
    # the model registry (MLflow behind it)
    models.router,
    experiments.router,
    runs.router,
    deployments.router,
    # the core
    roles.router,
    tenants.router,
    quotas.router,
    users.router,
    api_keys.router,
    audit.router,
)


def include_routes(app: FastAPI) -> None:
    """Add every route of the API to ``app``."""
    mlflow = APIRouter()
    mlflow.routes.extend([*mlflow_proxy.router.routes, *ui.router.routes])
    app.mount(mlflow_proxy.PREFIX, mlflow)
    for router in V1_ROUTERS:
        app.include_router(router, prefix="/v1", responses=PROBLEM_RESPONSES)
    app.include_router(health.router)
