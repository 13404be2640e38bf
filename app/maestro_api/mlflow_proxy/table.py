"""The allow list: exactly the MLflow routes the Python client (3.x) uses for tracking, the registry and artifacts.

Anything not listed here is not forwarded (the proxy is not an open relay): no workspaces API, traces, gateway,
scorers, datasets or multipart uploads. Each route names one RBAC permission; a viewer holds only the ``:read``
ones, so it can search, get and download but never log.

Paths are relative to ``/mlflow``. ``hook`` names a request check in ``guards`` for bodies that could otherwise
escape the tenant (an experiment's artifact location, a model version's source). ``invalidates`` names the
registry cache families (``registry.cache``) a mutation changes: they are dropped once MLflow has answered, before
the proxy does, so ``/v1`` never serves what ``/mlflow`` changed. ``quota`` names the tenant quota a route consumes.
The artifact routes (upload, delete) are write-once and guard the bytes of registered versions
(``mlflow_proxy.artifacts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from maestro_api.registry.cache import Family

TRACKING = "api/2.0/mlflow/"
ARTIFACTS = "api/2.0/mlflow-artifacts/artifacts"
ARTIFACT_PATH = ARTIFACTS + "/{artifact_path:path}"

Kind = Literal["json", "artifact_list", "artifact_get", "artifact_put", "artifact_delete"]
Hook = Literal["experiment_create", "version_create"] | None
Quota = Literal["max_models"] | None


@dataclass(frozen=True)
class ProxyRoute:
    """One allow-listed MLflow route.

    Args:
        path: path below ``/mlflow`` (FastAPI template, ``{model_id}`` style parameters).
        method: the one HTTP method forwarded.
        permission: the RBAC permission it requires.
        kind: how it is forwarded (JSON call, artifact listing, streamed download or upload).
        hook: a request check in ``guards`` (None: the body is forwarded unchanged).
        invalidates: the registry cache families a mutation changes.
        quota: the tenant quota the route consumes (checked and taken atomically, ``registry.quotas``).
    """

    path: str
    method: str
    permission: str
    kind: Kind = "json"
    hook: Hook = None
    invalidates: tuple[Family, ...] = ()
    quota: Quota = None

    @property
    def name(self) -> str:
        """The ``route`` label of the proxy metrics: ``POST runs/log-batch``."""
        short = self.path.removeprefix(TRACKING).removeprefix("api/2.0/")
        return f"{self.method} {short}"

    @property
    def mutating(self) -> bool:
        return not self.permission.endswith(":read")


_EXPERIMENTS: tuple[Family, ...] = ("experiments",)
_EXPERIMENTS_AND_RUNS: tuple[Family, ...] = ("experiments", "runs")
_RUNS: tuple[Family, ...] = ("runs",)
_MODELS: tuple[Family, ...] = ("models",)


def _t(
    path: str, method: str, permission: str, invalidates: tuple[Family, ...] = (), *, hook: Hook = None,
    quota: Quota = None,
) -> ProxyRoute:  # fmt: skip
    return ProxyRoute(
        path=TRACKING + path, method=method, permission=permission, hook=hook, invalidates=invalidates, quota=quota
    )


def _artifacts(method: str, permission: str, kind: Kind) -> ProxyRoute:
    return ProxyRoute(path=ARTIFACT_PATH, method=method, permission=permission, kind=kind)


ROUTES: tuple[ProxyRoute, ...] = (
    # experiments (deleting or restoring one deletes or restores its runs)
    _t("experiments/create", "POST", "experiments:create", _EXPERIMENTS, hook="experiment_create"),
    _t("experiments/get", "GET", "experiments:read"),
    _t("experiments/get-by-name", "GET", "experiments:read"),
    _t("experiments/search", "POST", "experiments:read"),
    _t("experiments/search", "GET", "experiments:read"),
    _t("experiments/update", "POST", "experiments:update", _EXPERIMENTS),
    _t("experiments/set-experiment-tag", "POST", "experiments:update", _EXPERIMENTS),
    _t("experiments/delete-experiment-tag", "POST", "experiments:update", _EXPERIMENTS),
    _t("experiments/restore", "POST", "experiments:update", _EXPERIMENTS_AND_RUNS),
    _t("experiments/delete", "POST", "experiments:delete", _EXPERIMENTS_AND_RUNS),
    # runs, params, metrics, tags, inputs and outputs
    _t("runs/create", "POST", "runs:create", _RUNS),
    _t("runs/get", "GET", "runs:read"),
    _t("runs/search", "POST", "runs:read"),
    _t("runs/update", "POST", "runs:update", _RUNS),
    _t("runs/log-metric", "POST", "runs:update", _RUNS),
    _t("runs/log-parameter", "POST", "runs:update", _RUNS),
    _t("runs/log-batch", "POST", "runs:update", _RUNS),
    _t("runs/set-tag", "POST", "runs:update", _RUNS),
    _t("runs/delete-tag", "POST", "runs:update", _RUNS),
    _t("runs/log-model", "POST", "runs:update", _RUNS),
    _t("runs/log-inputs", "POST", "runs:update", _RUNS),
    _t("runs/outputs", "POST", "runs:update", _RUNS),
    _t("runs/restore", "POST", "runs:update", _RUNS),
    _t("runs/delete", "POST", "runs:delete", _RUNS),
    _t("metrics/get-history", "GET", "runs:read"),
    _t("metrics/get-history-bulk-interval", "GET", "runs:read"),
    _t("artifacts/list", "GET", "artifacts:read"),
    # logged models (MLflow 3: what mlflow.<flavor>.log_model creates; they may tag their source run)
    _t("logged-models", "POST", "runs:create", _RUNS),
    _t("logged-models/search", "POST", "runs:read"),
    _t("logged-models/{model_id}", "GET", "runs:read"),
    _t("logged-models/{model_id}", "PATCH", "runs:update", _RUNS),
    _t("logged-models/{model_id}", "DELETE", "runs:delete", _RUNS),
    _t("logged-models/{model_id}/tags", "PATCH", "runs:update", _RUNS),
    _t("logged-models/{model_id}/tags/{tag_key}", "DELETE", "runs:update", _RUNS),
    _t("logged-models/{model_id}/params", "POST", "runs:update", _RUNS),
    _t("logged-models/{model_id}/artifacts/directories", "GET", "artifacts:read"),
    # registered models
    _t("registered-models/create", "POST", "models:create", _MODELS, quota="max_models"),
    _t("registered-models/get", "GET", "models:read"),
    _t("registered-models/search", "GET", "models:read"),
    _t("registered-models/rename", "POST", "models:update", _MODELS),
    _t("registered-models/update", "PATCH", "models:update", _MODELS),
    _t("registered-models/set-tag", "POST", "models:update", _MODELS),
    _t("registered-models/delete-tag", "DELETE", "models:update", _MODELS),
    _t("registered-models/delete", "DELETE", "models:delete", _MODELS),
    _t("registered-models/get-latest-versions", "POST", "versions:read"),
    _t("registered-models/alias", "GET", "versions:read"),
    _t("registered-models/alias", "POST", "aliases:set", _MODELS),
    _t("registered-models/alias", "DELETE", "aliases:delete", _MODELS),
    # model versions
    _t("model-versions/create", "POST", "versions:create", _MODELS, hook="version_create"),
    _t("model-versions/get", "GET", "versions:read"),
    _t("model-versions/search", "GET", "versions:read"),
    _t("model-versions/get-download-uri", "GET", "versions:read"),
    _t("model-versions/update", "PATCH", "versions:update", _MODELS),
    _t("model-versions/set-tag", "POST", "versions:update", _MODELS),
    _t("model-versions/delete-tag", "DELETE", "versions:update", _MODELS),
    _t("model-versions/transition-stage", "POST", "models:promote", _MODELS),
    _t("model-versions/delete", "DELETE", "versions:delete", _MODELS),
    # the artifact proxy (mlflow-artifacts:/ URIs resolve to these under the tracking URI). Uploads are
    # write-once; deletes (and uploads) touching a registered version's bytes also need models:promote.
    ProxyRoute(path=ARTIFACTS, method="GET", permission="artifacts:read", kind="artifact_list"),
    _artifacts("GET", "artifacts:read", "artifact_get"),
    _artifacts("PUT", "artifacts:write", "artifact_put"),
    _artifacts("DELETE", "artifacts:write", "artifact_delete"),
)
