"""The tenant-scoped registry: every operation of ``operations`` run in the tenant's MLflow workspace.

The tenant id comes first (from the authenticated principal, never from the request body); the answer is the
response body as JSON bytes, ready to send: a cache hit is returned without decoding.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from maestro_api.core.errors import ProblemError
from maestro_api.registry.cache import RegistryCache
from maestro_api.registry.mlflow_client import MlflowClient
from maestro_api.registry.operations import Json, Operation
from maestro_api.registry.scoping import tenant_artifact_root, workspace_for
from maestro_api.registry.ssrf import check_source


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

    async def run(self, op: Operation, tenant_id: uuid.UUID, *, fresh: bool = False, **fields: Any) -> bytes:
        """Run ``op`` with MLflow request ``fields``; the body to send (empty for a write that answers nothing).

        ``fresh`` (the client sent ``Cache-Control: no-cache``) makes a read skip the cache lookup; the answer
        still refreshes the entry.
        """
        request = op.request(fields)
        if op.kind == "write":
            return await self._write(op, tenant_id, request)
        field = op.cache_field(request)
        seen = await self.cache.get(tenant_id, op.family, field, bypass=fresh)
        if seen.value is not None:
            return seen.value
        body = orjson.dumps(op.public(await self._call(op, tenant_id, request)))
        await self.cache.put(tenant_id, op.family, field, body, seen=seen)
        return body

    async def exists(self, op: Operation, tenant_id: uuid.UUID, **fields: Any) -> bool:
        """Whether the read ``op`` finds its object (MLflow's 404 is False; other errors are raised)."""
        try:
            await self.run(op, tenant_id, **fields)
        except ProblemError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def _write(self, op: Operation, tenant_id: uuid.UUID, request: Json) -> bytes:
        if op.checks_source:
            check_source(str(request.get("source", "")), artifact_root=self.artifact_root, tenant_id=tenant_id)
        try:
            answer = await self._call(op, tenant_id, request)
        finally:
            # Whatever MLflow answered (a timed-out or failed write may still have been applied), the families the
            # write changes are dropped before the API answers.
            await self.cache.invalidate(tenant_id, op.invalidates)
        if op.then is not None:
            return await self.run(op.then, tenant_id, **op.follow_up(request, answer))
        public = op.public(answer)
        return b"" if public is None else orjson.dumps(public)

    async def _call(self, op: Operation, tenant_id: uuid.UUID, request: Json) -> Json:
        workspace = await self._ensure(tenant_id)
        params, body = (request, None) if op.method == "GET" else (None, request)
        return await self.client.call(
            op.method, op.endpoint, workspace=workspace, operation=op.name, params=params, body=body
        )

    async def _ensure(self, tenant_id: uuid.UUID) -> str:
        workspace = workspace_for(tenant_id)
        if tenant_id not in self._workspaces:
            await self.client.ensure_workspace(
                workspace=workspace, artifact_root=tenant_artifact_root(self.artifact_root, tenant_id)
            )
            self._workspaces.add(tenant_id)
        return workspace
