"""Request checks that keep a tenant inside its MLflow workspace where MLflow's own workspace scoping does not.

MLflow scopes ids, names, filters and page tokens to the workspace header (set by Maestro). Three inputs would
still reach outside it, so they are checked here:

- artifact paths of the artifact proxy: relative, normalised, no ``..``/``.``/empty segments, no scheme, no
  percent-encoding (a path arrives decoded once; a ``%`` left in it is a second encoding), no backslash or
  control characters, and not MLflow's reserved ``workspaces/`` prefix;
- an experiment's ``artifact_location``: never the client's (MLflow with workspaces refuses it too); experiments
  take the workspace's default root, ``{MAESTRO_ARTIFACT_ROOT}/{tenant_id}``. With
  ``MAESTRO_ARTIFACT_ROOT=mlflow-artifacts:/tenants`` that is a proxied URI, so the client streams artifacts
  through Maestro into MLflow's artifact proxy, which keeps them under the workspace's prefix;
- a model version's ``source``: an ``mlflow-artifacts:/`` path as above, a ``runs:/`` or ``models:/`` URI
  (resolved by MLflow inside the workspace), or a URI under the tenant's artifact root (the registry's SSRF
  guard). A ``mlflow-artifacts://host/...`` with a host would send whoever loads the model elsewhere.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from maestro_api.core.errors import ProblemError
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.registry.ssrf import check_source

MAX_PATH_LENGTH = 1024
_RESERVED_FIRST_SEGMENT = "workspaces"


def _invalid(message: str) -> MlflowApiError:
    return MlflowApiError(400, "INVALID_PARAMETER_VALUE", message)


def check_artifact_path(path: str, *, allow_empty: bool = False) -> str:
    """Return ``path`` if it is a safe relative artifact path inside the workspace; raise 400 otherwise."""
    if not path:
        if allow_empty:
            return path
        raise _invalid("The artifact path is empty.")
    if len(path) > MAX_PATH_LENGTH:
        raise _invalid("The artifact path is too long.")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c in "\\%" for c in path):
        raise _invalid("The artifact path contains control characters, backslashes or percent-encoding.")
    segments = path.split("/")
    if any(s in ("", ".", "..") for s in segments) or ":" in segments[0]:
        raise _invalid("The artifact path must be relative and normalised (no '..', '.', '//', scheme or leading '/').")
    if segments[0] == _RESERVED_FIRST_SEGMENT:
        raise _invalid("The artifact path may not start with 'workspaces/'.")
    return path


def check_content_length(value: str | None, *, limit: int) -> None:
    """Refuse an artifact upload whose announced size is malformed (400) or over ``limit`` (413)."""
    if value is None:
        return  # chunked: counted while streaming
    if not value.isdigit():
        raise _invalid("The Content-Length header is not a number.")
    if int(value) > limit:
        raise MlflowApiError(
            413,
            "RESOURCE_EXHAUSTED",
            f"The artifact is {int(value)} bytes; this server accepts artifacts of at most {limit} bytes "
            "(MAESTRO_MLFLOW_PROXY_MAX_ARTIFACT_BYTES).",
        )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise _invalid("The request body is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise _invalid("The request body must be a JSON object.")
    return value


def experiment_create(body: bytes) -> bytes:
    """Refuse a client-chosen artifact location (the tenant's root is the only one); forward the body unchanged."""
    payload = _json_object(body)
    if payload.get("artifact_location"):
        raise _invalid("artifact_location is chosen by Maestro; create the experiment without it.")
    return body


def check_version_source(source: str, *, artifact_root: str, tenant_id: uuid.UUID) -> str:
    """Return ``source`` if loading it can only reach the tenant's own artifacts; raise 400 otherwise."""
    for scheme in ("runs:/", "models:/"):
        if source.startswith(scheme):
            rest = source.removeprefix(scheme)
            check_artifact_path(rest)
            return source
    if source.startswith("mlflow-artifacts:"):
        rest = source.removeprefix("mlflow-artifacts:")
        if not rest.startswith("/") or rest.startswith("//"):
            raise _invalid("A model version source 'mlflow-artifacts:' URI may not name a host.")
        check_artifact_path(rest[1:])
        return source
    try:
        return check_source(source, artifact_root=artifact_root, tenant_id=tenant_id)
    except ProblemError as exc:
        raise _invalid(exc.detail or "The model version source is outside your artifact store.") from exc


def version_create(body: bytes, *, artifact_root: str, tenant_id: uuid.UUID) -> bytes:
    payload = _json_object(body)
    source = payload.get("source")
    if not isinstance(source, str) or not source:
        raise _invalid("Missing value for required parameter 'source'.")
    check_version_source(source, artifact_root=artifact_root, tenant_id=tenant_id)
    return body
