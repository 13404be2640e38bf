"""The registry's operations: one record per MLflow call the API makes, all run by ``RegistryService.run``.

A record says which MLflow endpoint to call and with which request fields, and what the API makes of the answer:

- ``read``: one object, cached in its ``family`` under ``<cache>:<field values>`` (``model:churn``,
  ``version:churn\\x1f3``);
- ``search``: one page of objects, cached in its ``family`` under ``<cache>`` and the whole canonical query;
- ``write``: drops the tenant's cached ``invalidates`` families, then answers with the object MLflow returned
  (``key``), with a read (``then``, its fields taken from the write's fields and MLflow's answer), or with nothing.

Request fields are MLflow's own member names. A field set to ``None`` is not sent, nor is a search's empty
filter, order or page token (MLflow reads an absent one the same way); ``tags`` are sent as MLflow's list of
key/value pairs. Objects leave the API only through their ``shape`` (``scoping``'s whitelists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from maestro_api.core.errors import ProblemError
from maestro_api.registry.cache import Family, field_for
from maestro_api.registry.scoping import public_experiment, public_model, public_page, public_run, public_version

Json = dict[str, Any]
Kind = Literal["read", "search", "write"]
Shape = Callable[[Mapping[str, Any]], Json]


@dataclass(frozen=True)
class Operation:
    """One registry operation.

    Args:
        name: MLflow's name for the call: the ``operation`` label of ``maestro_mlflow_request_duration_seconds``.
        kind: ``read``, ``search`` or ``write`` (see the module docstring).
        method: HTTP method of the MLflow call; a ``GET`` sends the fields as query parameters, others as JSON.
        endpoint: path below ``/api/2.0/mlflow/``.
        fields: the request fields it accepts, in order (a read's cache field names their values in this order).
        cache: reads and searches: the kind of their cache field.
        family: reads and searches: the cache family they are stored in.
        invalidates: writes: the cache families they change (dropped after MLflow answers, before the API does).
        key: the member of MLflow's answer that holds the object (or a search's list of objects).
        shape: rebuilds one object for the public API.
        then: writes: the read that answers the write.
        checks_source: writes: the ``source`` field must lie under the tenant's artifact root (``ssrf``).
    """

    name: str
    kind: Kind
    method: str
    endpoint: str
    fields: tuple[str, ...]
    cache: str = ""
    family: Family = "models"
    invalidates: tuple[Family, ...] = ()
    key: str = ""
    shape: Shape | None = None
    then: Operation | None = None
    checks_source: bool = False

    def request(self, values: Mapping[str, Any]) -> Json:
        """The MLflow request for ``values`` (keyword arguments of ``RegistryService.run``)."""
        unknown = set(values) - set(self.fields)
        if unknown:
            raise TypeError(f"{self.name}: unknown fields {sorted(unknown)}")
        out: Json = {}
        for name in self.fields:
            value = values.get(name)
            if value is None or (self.kind == "search" and not value):
                continue
            out[name] = [{"key": k, "value": v} for k, v in value.items()] if name == "tags" else value
        if self.kind == "read" and len(out) != len(self.fields):
            raise TypeError(f"{self.name}: needs every one of {self.fields}")
        return out

    def cache_field(self, request: Json) -> str:
        """The cache field of a read or a search: the object's identity, or the whole canonical query."""
        if self.kind == "read":
            return field_for(self.cache, *request.values())
        return field_for(self.cache, orjson.dumps(request, option=orjson.OPT_SORT_KEYS))

    def public(self, answer: Json) -> Json | None:
        """What the API answers, from MLflow's answer (None: a write that answers with nothing)."""
        if self.shape is None:
            return None
        if self.kind == "search":
            items = [self.shape(item) for item in answer.get(self.key) or ()]
            return public_page(items, answer.get("next_page_token"))
        return self.shape(answer.get(self.key) or {})

    def follow_up(self, request: Json, answer: Json) -> Json:
        """The fields of ``then``, from the write's request and MLflow's answer to it."""
        assert self.then is not None
        known = {**request, **answer}
        missing = [name for name in self.then.fields if name not in known]
        if missing:
            raise ProblemError(502, "Bad gateway", "The model registry sent an unreadable answer.")
        return {name: str(known[name]) for name in self.then.fields}


def version_filter(name: str) -> str:
    """The search filter for a model's versions. The API builds it from a validated name; clients never send
    MLflow filter text for versions."""
    if "'" in name or '"' in name or "\\" in name:
        raise ProblemError(422, "Unprocessable Content", "Names used in filters cannot contain quotes.")
    return f"name = '{name}'"


def _read(
    name: str, endpoint: str, fields: tuple[str, ...], cache: str, key: str, shape: Shape, family: Family
) -> Operation:
    return Operation(name, "read", "GET", endpoint, fields, cache=cache, family=family, key=key, shape=shape)


def _search(
    name: str, method: str, endpoint: str, fields: tuple[str, ...], cache: str, key: str, shape: Shape, family: Family
) -> Operation:
    return Operation(name, "search", method, endpoint, fields, cache=cache, family=family, key=key, shape=shape)


def _write(
    name: str, method: str, endpoint: str, fields: tuple[str, ...], invalidates: tuple[Family, ...], **answer: Any
) -> Operation:
    return Operation(name, "write", method, endpoint, fields, invalidates=invalidates, **answer)


EXPERIMENTS: tuple[Family, ...] = ("experiments",)
RUNS: tuple[Family, ...] = ("runs",)
MODELS: tuple[Family, ...] = ("models",)


PAGE = ("max_results", "page_token")

# experiments (deleting one deletes its runs too)
GET_EXPERIMENT = _read(
    "get_experiment", "experiments/get", ("experiment_id",), "experiment", "experiment", public_experiment,
    "experiments",
)  # fmt: skip
SEARCH_EXPERIMENTS = _search(
    "search_experiments", "POST", "experiments/search", ("filter", *PAGE), "experiments", "experiments",
    public_experiment, "experiments",
)  # fmt: skip
CREATE_EXPERIMENT = _write(
    "create_experiment", "POST", "experiments/create", ("name", "tags"), EXPERIMENTS, then=GET_EXPERIMENT
)
RENAME_EXPERIMENT = _write(
    "update_experiment", "POST", "experiments/update", ("experiment_id", "new_name"), EXPERIMENTS, then=GET_EXPERIMENT
)
SET_EXPERIMENT_TAG = _write(
    "set_experiment_tag", "POST", "experiments/set-experiment-tag", ("experiment_id", "key", "value"), EXPERIMENTS
)
DELETE_EXPERIMENT = _write(
    "delete_experiment", "POST", "experiments/delete", ("experiment_id",), ("experiments", "runs")
)

# runs (written by training jobs through MLflow, read here)
GET_RUN = _read("get_run", "runs/get", ("run_id",), "run", "run", public_run, "runs")
SEARCH_RUNS = _search(
    "search_runs", "POST", "runs/search", ("experiment_ids", "filter", "order_by", *PAGE), "runs", "runs", public_run,
    "runs",
)  # fmt: skip

# registered models
GET_MODEL = _read(
    "get_registered_model", "registered-models/get", ("name",), "model", "registered_model", public_model, "models"
)
SEARCH_MODELS = _search(
    "search_registered_models", "GET", "registered-models/search", ("filter", *PAGE), "models", "registered_models",
    public_model, "models",
)  # fmt: skip
CREATE_MODEL = _write(
    "create_registered_model", "POST", "registered-models/create", ("name", "description", "tags"), MODELS,
    key="registered_model", shape=public_model,
)  # fmt: skip
UPDATE_MODEL = _write(
    "update_registered_model", "PATCH", "registered-models/update", ("name", "description"), MODELS, then=GET_MODEL
)
DELETE_MODEL = _write("delete_registered_model", "DELETE", "registered-models/delete", ("name",), MODELS)
SET_MODEL_TAG = _write(
    "set_registered_model_tag", "POST", "registered-models/set-tag", ("name", "key", "value"), MODELS
)
DELETE_MODEL_TAG = _write(
    "delete_registered_model_tag", "DELETE", "registered-models/delete-tag", ("name", "key"), MODELS
)

# model versions
GET_VERSION = _read(
    "get_model_version", "model-versions/get", ("name", "version"), "version", "model_version", public_version,
    "models",
)  # fmt: skip
SEARCH_VERSIONS = _search(
    "search_model_versions", "GET", "model-versions/search", ("filter", *PAGE), "versions", "model_versions",
    public_version, "models",
)  # fmt: skip
CREATE_VERSION = _write(
    "create_model_version", "POST", "model-versions/create", ("name", "source", "run_id", "description", "tags"),
    MODELS, key="model_version", shape=public_version, checks_source=True,
)  # fmt: skip
UPDATE_VERSION = _write(
    "update_model_version", "PATCH", "model-versions/update", ("name", "version", "description"), MODELS,
    then=GET_VERSION,
)  # fmt: skip
DELETE_VERSION = _write("delete_model_version", "DELETE", "model-versions/delete", ("name", "version"), MODELS)
SET_VERSION_TAG = _write(
    "set_model_version_tag", "POST", "model-versions/set-tag", ("name", "version", "key", "value"), MODELS
)
DELETE_VERSION_TAG = _write(
    "delete_model_version_tag", "DELETE", "model-versions/delete-tag", ("name", "version", "key"), MODELS
)

# aliases
GET_ALIAS = _read(
    "get_model_version_by_alias", "registered-models/alias", ("name", "alias"), "alias", "model_version",
    public_version, "models",
)  # fmt: skip
SET_ALIAS = _write(
    "set_registered_model_alias", "POST", "registered-models/alias", ("name", "alias", "version"), MODELS,
    then=GET_VERSION,
)  # fmt: skip
DELETE_ALIAS = _write("delete_registered_model_alias", "DELETE", "registered-models/alias", ("name", "alias"), MODELS)
