"""Artifact integrity on the proxy: every path is write-once, and the bytes behind a registered version change only
by someone who may promote (``models:promote``).

**Write-once.** An upload first claims its path: one row ``(tenant, 'file', path)`` in ``artifact_claims``,
inserted with ``ON CONFLICT DO NOTHING``; of any number of concurrent uploads of one path exactly one inserts it,
the others answer 409 ``RESOURCE_ALREADY_EXISTS``. The claim is committed before the bytes stream (no database
connection is held during an upload) and released if the upload fails, so a retry can succeed. A deleted
artifact keeps its claim: deleting and writing again would be an overwrite. Files written before the claims
existed (or past the API) are found once per directory: the first upload into a directory claims, under the
directory's own row ``(tenant, 'dir', directory)``, every file MLflow already lists there; concurrent first
uploads into one directory wait on that row, so none of them slips past the listing.

**Registered versions.** MLflow 3.17 accepts a version only if its bytes lie inside the artifact directory of the
version's run (``<experiment>/<run id>/artifacts/...``) or logged model (``<experiment>/models/<model id>/
artifacts/...``). So an artifact path outside such a directory is behind no version, and one inside asks MLflow
which versions come from that run or logged model (``model-versions/search`` by run id; a logged model's versions
carry its source run's id, or name it in their source) and where their bytes are (the source, or
``get-download-uri`` for ``models:/`` sources). An upload or delete whose path overlaps those bytes (at, below or
above them; for a delete, as a string prefix, since object stores delete by prefix) needs ``models:promote``
besides the route's permission: 403 otherwise. The answer comes from MLflow
at the time of the request, so versions registered before this check existed are covered, and deleting a version
frees its bytes. What it cannot cover: an upload that started before the version was registered finishes after.
"""

from __future__ import annotations

import logging
import posixpath
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from maestro_api.core.db import tenant_transaction
from maestro_api.core.errors import ProblemError
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.registry.mlflow_client import MlflowClient

log = logging.getLogger("maestro_api.mlflow_proxy.artifacts")

PROMOTE = "models:promote"
MAX_PATH_BYTES = 1024
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
_SCHEME = "mlflow-artifacts:"
_VERSION_PAGE = 1000
_MAX_VERSION_PAGES = 20

_CLAIM = text(
    "INSERT INTO artifact_claims (tenant_id, kind, path) VALUES (:t, :k, :p) ON CONFLICT DO NOTHING RETURNING 1"
)
_CLAIM_QUIETLY = text("INSERT INTO artifact_claims (tenant_id, kind, path) VALUES (:t, :k, :p) ON CONFLICT DO NOTHING")
_RELEASE = text("DELETE FROM artifact_claims WHERE tenant_id = :t AND kind = 'file' AND path = :p")


def already_written() -> MlflowApiError:
    return MlflowApiError(
        409, "RESOURCE_ALREADY_EXISTS", "This artifact path was written before; artifacts are write-once."
    )


def needs_promote() -> ProblemError:
    return ProblemError(
        403, "Forbidden", f"These artifacts belong to a registered model version: changing them needs {PROMOTE!r}."
    )


def check_path_bytes(path: str) -> None:
    """The claims table stores paths of at most ``MAX_PATH_BYTES`` bytes of UTF-8."""
    if len(path.encode()) > MAX_PATH_BYTES:
        raise MlflowApiError(400, "INVALID_PARAMETER_VALUE", "The artifact path is too long.")


@dataclass(frozen=True)
class Owner:
    """The run or logged model whose artifact directory holds a path.

    Args:
        kind: ``run`` or ``model``.
        id: the run id or logged model id.
        root: the directory (``<experiment>/<run id>/artifacts`` or ``<experiment>/models/<model id>/artifacts``,
            with whatever prefix the path has before it).
    """

    kind: Literal["run", "model"]
    id: str
    root: str


def owner_of(path: str) -> Owner | None:
    """The run or logged model whose artifact directory holds ``path`` (at or below it), if any."""
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment != "artifacts" or i == 0:
            continue
        root = "/".join(segments[: i + 1])
        if _RUN_ID.match(segments[i - 1]):
            return Owner("run", segments[i - 1], root)
        if i >= 2 and segments[i - 2] == "models" and _MODEL_ID.match(segments[i - 1]):
            return Owner("model", segments[i - 1], root)
    return None


def overlaps(a: str, b: str, *, as_prefix: bool = False) -> bool:
    """Whether one of two relative paths is the other or lies below it. ``as_prefix``: whether one is a prefix of
    the other as a string, which is what a delete reaches in an object store (S3 deletes every key that starts
    with the path: deleting ``model`` there deletes ``model2/...`` too)."""
    if as_prefix:
        return a.startswith(b) or b.startswith(a)
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _location(uri: str, owner: Owner) -> str | None:
    """Where a version's bytes are, as an artifact path of the workspace (None: not in ``owner``'s reach)."""
    if uri.startswith(_SCHEME):
        rest = uri.removeprefix(_SCHEME)
        return None if rest.startswith("//") else rest.lstrip("/")
    if uri.startswith("runs:/") and owner.kind == "run":
        run_id, _, sub = uri.removeprefix("runs:/").partition("/")
        if run_id == owner.id:
            return f"{owner.root}/{sub.strip('/')}".rstrip("/")
    return None


class Guard:
    """The per-request checks of the artifact routes, in one tenant's workspace.

    Args:
        client: the registry's MLflow client (for searches, logged models and directory listings).
        sessionmaker: the service role's sessions (claims live in ``artifact_claims``, RLS on the tenant).
        tenant_id: the caller's tenant.
        workspace: the tenant's MLflow workspace.
    """

    def __init__(
        self,
        *,
        client: MlflowClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        tenant_id: uuid.UUID,
        workspace: str,
    ) -> None:
        self._client = client
        self._sessionmaker = sessionmaker
        self._tenant_id = tenant_id
        self._workspace = workspace

    async def registered(self, path: str, *, as_prefix: bool = False) -> bool:
        """Whether ``path`` overlaps the bytes of a registered version of the tenant (asks MLflow); ``as_prefix``
        for a delete (see ``overlaps``)."""
        owner = owner_of(path)
        if owner is None:
            return False
        versions, complete = await self._versions(await self._versions_filter(owner))
        if not complete:
            return True  # more versions than the pages read: treat the bytes as registered
        for version in versions:
            source = str(version.get("source") or "")
            if source.startswith("models:/"):
                source = await self._download_uri(version)
            location = _location(source, owner)
            if location is not None and overlaps(location, path, as_prefix=as_prefix):
                return True
        return False

    async def claim(self, path: str) -> None:
        """Claim ``path`` for one upload, or raise 409 if it was written before (see the module docstring)."""
        directory, name = posixpath.split(path)
        async with tenant_transaction(self._sessionmaker, tenant_id=self._tenant_id) as session:
            existed = False
            if await self._insert(session, "dir", directory):
                existing = await self._client.list_artifacts(workspace=self._workspace, path=directory)
                files = {str(e.get("path", "")) for e in existing if not e.get("is_dir")}
                for file in sorted(files):
                    params = {"t": self._tenant_id, "k": "file", "p": posixpath.join(directory, file)}
                    await session.execute(_CLAIM_QUIETLY, params)
                existed = name in files
            if not existed:
                existed = not await self._insert(session, "file", path)
        if existed:
            raise already_written()

    async def release(self, path: str) -> None:
        """Give up the claim of a failed upload, so the path can be written again (logged if impossible)."""
        try:
            async with tenant_transaction(self._sessionmaker, tenant_id=self._tenant_id) as session:
                await session.execute(_RELEASE, {"t": self._tenant_id, "p": path})
        except Exception:
            log.exception("could not release the claim of a failed upload; the path stays write-protected")

    async def _insert(self, session: AsyncSession, kind: str, path: str) -> bool:
        return await session.scalar(_CLAIM, {"t": self._tenant_id, "k": kind, "p": path}) is not None

    async def _versions_filter(self, owner: Owner) -> str:
        if owner.kind == "run":
            return f"run_id = '{owner.id}'"
        try:
            answer = await self._call("GET", f"logged-models/{owner.id}", "get_logged_model", None)
        except ProblemError as exc:
            if exc.status != 404:
                raise
            answer = {}
        info = (answer.get("model") or {}).get("info") or {}
        run_id = str(info.get("source_run_id") or "")
        # A logged model's versions carry its source run's id; without one, they name the model in their source.
        return f"run_id = '{run_id}'" if _RUN_ID.match(run_id) else f"source_path = 'models:/{owner.id}'"

    async def _versions(self, filter_: str) -> tuple[list[dict[str, Any]], bool]:
        """The versions matching ``filter_``, and whether that is all of them (at most ``_MAX_VERSION_PAGES``)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(_MAX_VERSION_PAGES):
            params: dict[str, Any] = {"filter": filter_, "max_results": _VERSION_PAGE}
            if token:
                params["page_token"] = token
            answer = await self._call("GET", "model-versions/search", "search_model_versions", params)
            found.extend(v for v in answer.get("model_versions") or () if isinstance(v, dict))
            token = answer.get("next_page_token")
            if not token:
                return found, True
        return found, False

    async def _download_uri(self, version: dict[str, Any]) -> str:
        params = {"name": str(version.get("name", "")), "version": str(version.get("version", ""))}
        answer = await self._call("GET", "model-versions/get-download-uri", "get_model_version_download_uri", params)
        return str(answer.get("artifact_uri") or "")

    async def _call(self, method: str, endpoint: str, operation: str, params: dict[str, Any] | None) -> dict[str, Any]:
        return await self._client.call(method, endpoint, workspace=self._workspace, operation=operation, params=params)
