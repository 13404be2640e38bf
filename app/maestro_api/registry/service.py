"""The tenant-scoped registry: MLflow calls in the tenant's workspace, responses whitelisted, reads cached.

Every public method takes the tenant id first (from the authenticated principal, never from the request body)
and returns the response body as JSON bytes, ready to send: a cache hit is returned without decoding.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from maestro_api.core.errors import ProblemError
from maestro_api.registry.cache import RegistryCache, field_for
from maestro_api.registry.mlflow_client import MlflowClient
from maestro_api.registry.scoping import (
    public_experiment,
    public_model,
    public_page,
    public_run,
    public_version,
    tenant_artifact_root,
    workspace_for,
)
from maestro_api.registry.ssrf import check_source

Json = dict[str, Any]


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def _query(required: Json, **optional: Any) -> Json:
    """A search's parameters: `required` as given, each optional one only when set (not None, empty or [])."""
    return {**required, **{key: value for key, value in optional.items() if value}}


def _quote_filter_value(value: str) -> str:
    """A filter literal for a name the API itself puts in a filter (validated names never contain quotes)."""
    if "'" in value or '"' in value or "\\" in value:
        raise ProblemError(422, "Unprocessable Content", "Names used in filters cannot contain quotes.")
    return f"'{value}'"


class RegistryService:
    """One per process; holds the MLflow client and the cache.

    Args:
        client: the MLflow REST client.
        cache: the tenant-keyed read cache.
        artifact_root: root URI of all tenants' artifacts (``MAESTRO_ARTIFACT_ROOT``).
    """

    def __init__(self, *, client: MlflowClient, cache: RegistryCache, artifact_root: str) -> None:
        self.client = client
        self.cache = cache
        self.artifact_root = artifact_root
        self._workspaces: set[uuid.UUID] = set()

    # --- plumbing -----------------------------------------------------------------------------------------
    async def _ensure(self, tenant_id: uuid.UUID) -> str:
        workspace = workspace_for(tenant_id)
        if tenant_id not in self._workspaces:
            await self.client.ensure_workspace(
                workspace=workspace, artifact_root=tenant_artifact_root(self.artifact_root, tenant_id)
            )
            self._workspaces.add(tenant_id)
        return workspace

    async def _call(
        self,
        tenant_id: uuid.UUID,
        method: str,
        endpoint: str,
        *,
        operation: str,
        params: Json | None = None,
        body: Json | None = None,
    ) -> Json:
        workspace = await self._ensure(tenant_id)
        return await self.client.call(
            method, endpoint, workspace=workspace, operation=operation, params=params, body=body
        )

    async def _cached(
        self, tenant_id: uuid.UUID, field: str, fetch: Callable[[], Awaitable[Any]], *, fresh: bool = False
    ) -> bytes:
        """The cached body of a read; ``fresh`` (client sent ``Cache-Control: no-cache``) skips the lookup but
        still refreshes the entry."""
        seen = await self.cache.get(tenant_id, field, bypass=fresh)
        if seen.value is not None:
            return seen.value
        body = orjson.dumps(await fetch())
        await self.cache.put(tenant_id, field, body, seen=seen)
        return body

    async def _get(
        self,
        tenant_id: uuid.UUID,
        field: str,
        endpoint: str,
        *,
        operation: str,
        params: Json,
        key: str,
        shape: Callable[[Json], Json],
        fresh: bool,
    ) -> bytes:
        """A cached GET of one object: MLflow's `key` member of the answer, shaped for the public API."""

        async def fetch() -> Json:
            raw = await self._call(tenant_id, "GET", endpoint, operation=operation, params=params)
            return shape(raw.get(key) or {})

        return await self._cached(tenant_id, field, fetch, fresh=fresh)

    async def _search(
        self,
        tenant_id: uuid.UUID,
        kind: str,
        method: str,
        endpoint: str,
        *,
        operation: str,
        query: Json,
        key: str,
        shape: Callable[[Json], Json],
        fresh: bool,
    ) -> bytes:
        """A cached search: one page of MLflow's `key` list, shaped, keyed in the cache by the whole query."""

        async def fetch() -> Json:
            if method == "GET":
                raw = await self._call(tenant_id, method, endpoint, operation=operation, params=query)
            else:
                raw = await self._call(tenant_id, method, endpoint, operation=operation, body=query)
            return public_page([shape(item) for item in raw.get(key) or ()], raw.get("next_page_token"))

        field = field_for(kind, orjson.dumps(query, option=orjson.OPT_SORT_KEYS))
        return await self._cached(tenant_id, field, fetch, fresh=fresh)

    async def _write(
        self,
        tenant_id: uuid.UUID,
        method: str,
        endpoint: str,
        *,
        operation: str,
        params: Json | None = None,
        body: Json | None = None,
    ) -> Json:
        try:
            result = await self._call(tenant_id, method, endpoint, operation=operation, params=params, body=body)
        except ProblemError as exc:
            # A timed-out or failed (5xx) write may still have been applied by MLflow: drop the cache anyway.
            if exc.status >= 500:
                await self.cache.invalidate(tenant_id)
            raise
        await self.cache.invalidate(tenant_id)
        return result

    # --- experiments --------------------------------------------------------------------------------------
    async def get_experiment(self, tenant_id: uuid.UUID, experiment_id: str, *, fresh: bool = False) -> bytes:
        return await self._get(
            tenant_id,
            field_for("experiment", experiment_id),
            "experiments/get",
            operation="get_experiment",
            params={"experiment_id": experiment_id},
            key="experiment",
            shape=public_experiment,
            fresh=fresh,
        )

    async def search_experiments(
        self,
        tenant_id: uuid.UUID,
        *,
        filter_: str | None,
        max_results: int,
        page_token: str | None,
        fresh: bool = False,
    ) -> bytes:
        return await self._search(
            tenant_id,
            "experiments",
            "POST",
            "experiments/search",
            operation="search_experiments",
            query=_query({"max_results": max_results}, filter=filter_, page_token=page_token),
            key="experiments",
            shape=public_experiment,
            fresh=fresh,
        )

    async def create_experiment(self, tenant_id: uuid.UUID, *, name: str, tags: dict[str, str]) -> bytes:
        raw = await self._write(
            tenant_id,
            "POST",
            "experiments/create",
            operation="create_experiment",
            body={"name": name, "tags": _tag_list(tags)},
        )
        return await self.get_experiment(tenant_id, str(raw.get("experiment_id")))

    async def rename_experiment(self, tenant_id: uuid.UUID, experiment_id: str, *, name: str) -> bytes:
        await self._write(
            tenant_id,
            "POST",
            "experiments/update",
            operation="update_experiment",
            body={"experiment_id": experiment_id, "new_name": name},
        )
        return await self.get_experiment(tenant_id, experiment_id)

    async def set_experiment_tag(self, tenant_id: uuid.UUID, experiment_id: str, key: str, value: str) -> None:
        await self._write(
            tenant_id,
            "POST",
            "experiments/set-experiment-tag",
            operation="set_experiment_tag",
            body={"experiment_id": experiment_id, "key": key, "value": value},
        )

    async def delete_experiment(self, tenant_id: uuid.UUID, experiment_id: str) -> None:
        await self._write(
            tenant_id,
            "POST",
            "experiments/delete",
            operation="delete_experiment",
            body={"experiment_id": experiment_id},
        )

    # --- runs ---------------------------------------------------------------------------------------------
    async def get_run(self, tenant_id: uuid.UUID, run_id: str, *, fresh: bool = False) -> bytes:
        return await self._get(
            tenant_id,
            field_for("run", run_id),
            "runs/get",
            operation="get_run",
            params={"run_id": run_id},
            key="run",
            shape=public_run,
            fresh=fresh,
        )

    async def search_runs(
        self,
        tenant_id: uuid.UUID,
        *,
        experiment_ids: list[str],
        filter_: str | None,
        max_results: int,
        order_by: list[str],
        page_token: str | None,
        fresh: bool = False,
    ) -> bytes:
        return await self._search(
            tenant_id,
            "runs",
            "POST",
            "runs/search",
            operation="search_runs",
            query=_query(
                {"experiment_ids": experiment_ids, "max_results": max_results},
                filter=filter_,
                order_by=order_by,
                page_token=page_token,
            ),
            key="runs",
            shape=public_run,
            fresh=fresh,
        )

    # --- registered models --------------------------------------------------------------------------------
    async def get_model(self, tenant_id: uuid.UUID, name: str, *, fresh: bool = False) -> bytes:
        return await self._get(
            tenant_id,
            field_for("model", name),
            "registered-models/get",
            operation="get_registered_model",
            params={"name": name},
            key="registered_model",
            shape=public_model,
            fresh=fresh,
        )

    async def search_models(
        self,
        tenant_id: uuid.UUID,
        *,
        filter_: str | None,
        max_results: int,
        page_token: str | None,
        fresh: bool = False,
    ) -> bytes:
        return await self._search(
            tenant_id,
            "models",
            "GET",
            "registered-models/search",
            operation="search_registered_models",
            query=_query({"max_results": max_results}, filter=filter_, page_token=page_token),
            key="registered_models",
            shape=public_model,
            fresh=fresh,
        )

    async def create_model(
        self, tenant_id: uuid.UUID, *, name: str, description: str | None, tags: dict[str, str]
    ) -> bytes:
        body: Json = {"name": name, "tags": _tag_list(tags)}
        if description is not None:
            body["description"] = description
        raw = await self._write(
            tenant_id, "POST", "registered-models/create", operation="create_registered_model", body=body
        )
        return orjson.dumps(public_model(raw.get("registered_model") or {}))

    async def update_model(self, tenant_id: uuid.UUID, name: str, *, description: str) -> bytes:
        await self._write(
            tenant_id,
            "PATCH",
            "registered-models/update",
            operation="update_registered_model",
            body={"name": name, "description": description},
        )
        return await self.get_model(tenant_id, name)

    async def delete_model(self, tenant_id: uuid.UUID, name: str) -> None:
        await self._write(
            tenant_id, "DELETE", "registered-models/delete", operation="delete_registered_model", body={"name": name}
        )

    async def set_model_tag(self, tenant_id: uuid.UUID, name: str, key: str, value: str) -> None:
        await self._write(
            tenant_id,
            "POST",
            "registered-models/set-tag",
            operation="set_registered_model_tag",
            body={"name": name, "key": key, "value": value},
        )

    async def delete_model_tag(self, tenant_id: uuid.UUID, name: str, key: str) -> None:
        await self._write(
            tenant_id,
            "DELETE",
            "registered-models/delete-tag",
            operation="delete_registered_model_tag",
            body={"name": name, "key": key},
        )

    # --- model versions -----------------------------------------------------------------------------------
    async def get_version(self, tenant_id: uuid.UUID, name: str, version: str, *, fresh: bool = False) -> bytes:
        return await self._get(
            tenant_id,
            field_for("version", name, version),
            "model-versions/get",
            operation="get_model_version",
            params={"name": name, "version": version},
            key="model_version",
            shape=public_version,
            fresh=fresh,
        )

    async def version_exists(self, tenant_id: uuid.UUID, name: str, version: str) -> bool:
        try:
            await self.get_version(tenant_id, name, version)
        except ProblemError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def search_versions(
        self, tenant_id: uuid.UUID, name: str, *, max_results: int, page_token: str | None, fresh: bool = False
    ) -> bytes:
        return await self._search(
            tenant_id,
            "versions",
            "GET",
            "model-versions/search",
            operation="search_model_versions",
            # The filter is built here from a validated name; clients never send MLflow filter text for versions.
            query=_query(
                {"filter": f"name = {_quote_filter_value(name)}", "max_results": max_results}, page_token=page_token
            ),
            key="model_versions",
            shape=public_version,
            fresh=fresh,
        )

    async def create_version(
        self,
        tenant_id: uuid.UUID,
        name: str,
        *,
        source: str,
        run_id: str | None,
        description: str | None,
        tags: dict[str, str],
    ) -> bytes:
        check_source(source, artifact_root=self.artifact_root, tenant_id=tenant_id)
        body: Json = {"name": name, "source": source, "tags": _tag_list(tags)}
        if run_id:
            body["run_id"] = run_id
        if description is not None:
            body["description"] = description
        raw = await self._write(tenant_id, "POST", "model-versions/create", operation="create_model_version", body=body)
        return orjson.dumps(public_version(raw.get("model_version") or {}))

    async def update_version(self, tenant_id: uuid.UUID, name: str, version: str, *, description: str) -> bytes:
        await self._write(
            tenant_id,
            "PATCH",
            "model-versions/update",
            operation="update_model_version",
            body={"name": name, "version": version, "description": description},
        )
        return await self.get_version(tenant_id, name, version)

    async def delete_version(self, tenant_id: uuid.UUID, name: str, version: str) -> None:
        await self._write(
            tenant_id,
            "DELETE",
            "model-versions/delete",
            operation="delete_model_version",
            body={"name": name, "version": version},
        )

    async def set_version_tag(self, tenant_id: uuid.UUID, name: str, version: str, key: str, value: str) -> None:
        await self._write(
            tenant_id,
            "POST",
            "model-versions/set-tag",
            operation="set_model_version_tag",
            body={"name": name, "version": version, "key": key, "value": value},
        )

    async def delete_version_tag(self, tenant_id: uuid.UUID, name: str, version: str, key: str) -> None:
        await self._write(
            tenant_id,
            "DELETE",
            "model-versions/delete-tag",
            operation="delete_model_version_tag",
            body={"name": name, "version": version, "key": key},
        )

    # --- aliases ------------------------------------------------------------------------------------------
    async def get_alias(self, tenant_id: uuid.UUID, name: str, alias: str, *, fresh: bool = False) -> bytes:
        return await self._get(
            tenant_id,
            field_for("alias", name, alias),
            "registered-models/alias",
            operation="get_model_version_by_alias",
            params={"name": name, "alias": alias},
            key="model_version",
            shape=public_version,
            fresh=fresh,
        )

    async def set_alias(self, tenant_id: uuid.UUID, name: str, alias: str, *, version: str) -> None:
        await self._write(
            tenant_id,
            "POST",
            "registered-models/alias",
            operation="set_registered_model_alias",
            body={"name": name, "alias": alias, "version": version},
        )

    async def delete_alias(self, tenant_id: uuid.UUID, name: str, alias: str) -> None:
        await self._write(
            tenant_id,
            "DELETE",
            "registered-models/alias",
            operation="delete_registered_model_alias",
            body={"name": name, "alias": alias},
        )
