"""The UI's allow list: exactly the routes MLflow's web UI (3.17) calls to show and edit experiments, runs, metric
charts, artifacts and the model registry. Paths are relative to ``/mlflow``, like the client proxy's.

- ``PROXIED``: MLflow REST calls the UI sends to ``ajax-api/2.0/mlflow/<call>``, each the same call as the stock
  client's ``api/2.0/mlflow/<call>`` (``mlflow_proxy.table``). They are served by the client proxy's own endpoints,
  so each keeps its permission, request checks, audit event, cache invalidation and quota; only the credential
  differs (the browser session instead of a bearer token).
- ``UI_ROUTES``: what only the UI calls: its page and static files, the GraphQL queries (``ui.graphql``: fields
  allow-listed, permissions per field), server info (answered by Maestro: no workspaces, no multipart), and three
  artifact downloads whose query parameters are checked and rebuilt before MLflow sees them.

Everything else the UI knows about (traces, the assistant, the AI gateway, prompts' and scorers' APIs, user
management, UI telemetry, uploads) is not listed, so it answers 404 like any path outside the allow list; the UI
shows those panels empty or with its own error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from maestro_api.mlflow_proxy.table import ROUTES, TRACKING, ProxyRoute

AJAX = "ajax-api/2.0/mlflow/"

_CALLS: tuple[tuple[str, str], ...] = (
    # experiments: the list, one experiment, create, rename, tags, delete
    ("GET", "experiments/search"),
    ("POST", "experiments/search"),
    ("GET", "experiments/get"),
    ("GET", "experiments/get-by-name"),
    ("POST", "experiments/create"),
    ("POST", "experiments/update"),
    ("POST", "experiments/set-experiment-tag"),
    ("POST", "experiments/delete-experiment-tag"),
    ("POST", "experiments/delete"),
    # runs: the runs table, one run, rename, tags, delete and restore; metric charts; artifact listings
    ("POST", "runs/search"),
    ("GET", "runs/get"),
    ("POST", "runs/update"),
    ("POST", "runs/set-tag"),
    ("POST", "runs/delete-tag"),
    ("POST", "runs/delete"),
    ("POST", "runs/restore"),
    ("GET", "metrics/get-history"),
    ("GET", "metrics/get-history-bulk-interval"),
    ("GET", "artifacts/list"),
    # logged models (a run's models, a version's source)
    ("POST", "logged-models/search"),
    ("GET", "logged-models/{model_id}"),
    ("GET", "logged-models/{model_id}/artifacts/directories"),
    # the model registry: models, versions, tags, aliases, stages
    ("GET", "registered-models/search"),
    ("GET", "registered-models/get"),
    ("POST", "registered-models/create"),
    ("POST", "registered-models/rename"),
    ("PATCH", "registered-models/update"),
    ("POST", "registered-models/set-tag"),
    ("DELETE", "registered-models/delete-tag"),
    ("DELETE", "registered-models/delete"),
    ("POST", "registered-models/alias"),
    ("DELETE", "registered-models/alias"),
    ("GET", "model-versions/search"),
    ("GET", "model-versions/get"),
    ("POST", "model-versions/create"),
    ("PATCH", "model-versions/update"),
    ("POST", "model-versions/set-tag"),
    ("DELETE", "model-versions/delete-tag"),
    ("DELETE", "model-versions/delete"),
    ("POST", "model-versions/transition-stage"),
)


def _client_route(method: str, call: str) -> ProxyRoute:
    for route in ROUTES:
        if route.method == method and route.path == TRACKING + call:
            return route
    raise LookupError(f"{method} {call} is not a client proxy route (mlflow_proxy.table)")


PROXIED: tuple[ProxyRoute, ...] = tuple(_client_route(method, call) for method, call in _CALLS)
"""The client proxy's routes the UI calls, each served at ``AJAX`` + its call."""


def ui_path(route: ProxyRoute) -> str:
    """Where the UI calls a client proxy route: ``ajax-api/2.0/mlflow/runs/search`` for ``api/2.0/mlflow/...``."""
    return AJAX + route.path.removeprefix(TRACKING)


Kind = Literal["page", "static", "server_info", "graphql", "artifact"]
ParamCheck = Literal["artifact_path", "run_id", "model_name", "version"]


@dataclass(frozen=True)
class UiRoute:
    """A route only the UI calls.

    Args:
        path: below ``/mlflow`` (FastAPI template).
        method: the one HTTP method served.
        kind: how it is served (``ui.routes``).
        permission: the RBAC permission it needs (None: a signed-in user of any role; GraphQL: per field).
        upstream: the MLflow path it reads (page, static files, artifacts).
        params: the query parameters passed on, each with the check its value must pass (artifacts).
    """

    path: str
    method: str
    kind: Kind
    permission: str | None = None
    upstream: str = ""
    params: dict[str, ParamCheck] = field(default_factory=dict)


UI_ROUTES: tuple[UiRoute, ...] = (
    UiRoute("", "GET", "page", upstream="/"),
    UiRoute("static-files/{file_path:path}", "GET", "static", upstream="/static-files/"),
    UiRoute("ajax-api/3.0/mlflow/server-info", "GET", "server_info"),
    UiRoute("graphql", "POST", "graphql"),
    # A run's artifact (the artifacts tab's preview and download link).
    UiRoute(
        "get-artifact",
        "GET",
        "artifact",
        "artifacts:read",
        upstream="/get-artifact",
        params={"path": "artifact_path", "run_uuid": "run_id", "run_id": "run_id"},
    ),
    # A registered version's artifact (the version page reads its MLmodel).
    UiRoute(
        "model-versions/get-artifact",
        "GET",
        "artifact",
        "artifacts:read",
        upstream="/model-versions/get-artifact",
        params={"path": "artifact_path", "name": "model_name", "version": "version"},
    ),
    # A logged model's artifact (the logged model page).
    UiRoute(
        "ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
        "GET",
        "artifact",
        "artifacts:read",
        upstream="/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
        params={"artifact_file_path": "artifact_path"},
    ),
)
