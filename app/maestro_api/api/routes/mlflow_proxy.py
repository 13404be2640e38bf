"""``/mlflow``: MLflow's REST API for the stock Python client (``MLFLOW_TRACKING_URI=https://<maestro>/mlflow``).

One route per allow-listed MLflow route (``maestro_api.mlflow_proxy.table``), each with its own permission.
Every call is forwarded in the caller's tenant workspace; each mutation leaves one audit event and drops the
registry cache families it changes before it answers; registering a model takes the tenant's ``max_models``
quota; artifacts are write-once and a registered version's bytes change only with ``models:promote``
(``mlflow_proxy.artifacts``); refusals answer in MLflow's error shape. Not in the OpenAPI document: the contract
is MLflow's own REST API.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from maestro_api.api.deps import Authorize, CurrentPrincipal, get_sessionmaker
from maestro_api.core.audit import Outcome
from maestro_api.core.db import tenant_transaction
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import is_allowed
from maestro_api.core.security import Principal
from maestro_api.crud import QUOTA_EXCEEDED_TYPE
from maestro_api.mlflow_proxy import artifacts, guards
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.mlflow_proxy.forward import ARTIFACTS_UPSTREAM, MlflowForwarder
from maestro_api.mlflow_proxy.runtime import MlflowRoute, audit, get_forwarder, tenant_workspace
from maestro_api.mlflow_proxy.table import ROUTES, ProxyRoute
from maestro_api.registry import quotas
from maestro_api.registry.service import RegistryService

PREFIX = "/mlflow"
"""Where the router is mounted (``maestro_api.api.main``); its routes' paths are relative to it."""
router = APIRouter(route_class=MlflowRoute, tags=["mlflow"])

ForwarderDep = Annotated[MlflowForwarder, Depends(get_forwarder)]
Endpoint = Callable[[Request, CurrentPrincipal, ForwarderDep], Awaitable[Response]]
Call = Callable[[], Awaitable[Response]]


def _upstream_path(spec: ProxyRoute, request: Request) -> str:
    """The MLflow path: the route's template with each path parameter checked and quoted as one segment."""
    values = {}
    for name, value in request.path_params.items():
        if not isinstance(value, str) or value in ("", ".", "..") or len(value) > guards.MAX_PATH_LENGTH:
            raise MlflowApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid value for path parameter {name!r}.")
        values[name] = quote(value, safe="")
    return "/" + spec.path.format(**values)


async def _body(request: Request, spec: ProxyRoute, principal: CurrentPrincipal) -> bytes | None:
    if spec.method == "GET":
        return None
    body = await request.body()
    if spec.hook == "experiment_create":
        return guards.experiment_create(body)
    if spec.hook == "version_create":
        registry: RegistryService = request.app.state.registry
        return guards.version_create(body, artifact_root=registry.artifact_root, tenant_id=principal.tenant_id)
    return body


async def _audited(request: Request, principal: CurrentPrincipal, spec: ProxyRoute, call: Call) -> Response:
    """Run ``call``; a mutating route leaves exactly one audit event, whatever happens: ``success``, ``denied`` (a
    403 raised here, e.g. a registered version's bytes) or ``failure`` (any other refusal or error, a dropped
    connection included). Denials by the route's permission are audited by ``Authorize`` before this runs.
    Afterwards the registry cache families the route changes are dropped (MLflow may have applied a failed
    call), before the response is sent."""
    if not spec.mutating:
        return await call()
    target = f"mlflow:{spec.method} {request.url.path.removeprefix(PREFIX + '/')}"
    outcome: Outcome = "failure"
    try:
        response = await call()
        outcome = "success"
        return response
    except ProblemError as exc:
        outcome = "denied" if exc.status == 403 else "failure"
        raise
    finally:
        # Shielded: a cancelled request (client gone) still records its event and drops the cache.
        await asyncio.shield(_after_mutation(request, principal, spec, target, outcome))


async def _after_mutation(
    request: Request, principal: Principal, spec: ProxyRoute, target: str, outcome: Outcome
) -> None:
    registry: RegistryService = request.app.state.registry
    await registry.cache.invalidate(principal.tenant_id, spec.invalidates)
    await audit(request, principal, action=spec.permission, target=target, outcome=outcome)


async def _with_quota(request: Request, principal: Principal, spec: ProxyRoute, forward: Call) -> Response:
    """Run ``forward`` within the route's quota, atomically (``registry.quotas``): the quota row stays locked until
    MLflow has answered."""
    if spec.quota is None:
        return await forward()
    registry: RegistryService = request.app.state.registry
    try:
        async with (
            tenant_transaction(get_sessionmaker(request), tenant_id=principal.tenant_id) as session,
            quotas.model_slot(session, registry, tenant_id=principal.tenant_id),
        ):
            return await forward()
    except ProblemError as exc:
        if exc.type_ == QUOTA_EXCEEDED_TYPE:
            raise MlflowApiError(exc.status, "QUOTA_EXCEEDED", exc.detail or exc.title) from exc
        raise


def _guard(request: Request, principal: Principal, workspace: str) -> artifacts.Guard:
    registry: RegistryService = request.app.state.registry
    return artifacts.Guard(
        client=registry.client,
        sessionmaker=get_sessionmaker(request),
        tenant_id=principal.tenant_id,
        workspace=workspace,
    )


async def _may_change(guard: artifacts.Guard, principal: Principal, path: str, *, deleting: bool) -> None:
    """Changing the bytes of a registered version needs ``models:promote`` too (403 otherwise)."""
    if not is_allowed(principal.role, artifacts.PROMOTE) and await guard.registered(path, as_prefix=deleting):
        raise artifacts.needs_promote()


def _artifact_path(request: Request) -> str:
    path = guards.check_artifact_path(str(request.path_params.get("artifact_path", "")))
    artifacts.check_path_bytes(path)
    return path


def _endpoint(spec: ProxyRoute) -> Endpoint:
    async def json_call(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        async def call() -> Response:
            path = _upstream_path(spec, request)
            body = await _body(request, spec, principal)
            workspace = await tenant_workspace(request, principal.tenant_id)

            async def forward() -> Response:
                return await forwarder.json_call(
                    method=spec.method, path=path, query=request.url.query, body=body, workspace=workspace,
                    route=spec.name,
                )  # fmt: skip

            return await _with_quota(request, principal, spec, forward)

        return await _audited(request, principal, spec, call)

    async def artifact_list(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        path = guards.check_artifact_path(request.query_params.get("path", ""), allow_empty=True)
        workspace = await tenant_workspace(request, principal.tenant_id)
        return await forwarder.json_call(
            method="GET",
            path=ARTIFACTS_UPSTREAM,
            query=urlencode({"path": path}) if path else "",
            body=None,
            workspace=workspace,
            route=spec.name,
        )

    async def artifact_get(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        path = guards.check_artifact_path(str(request.path_params.get("artifact_path", "")))
        workspace = await tenant_workspace(request, principal.tenant_id)
        return await forwarder.download(path=path, workspace=workspace, route=spec.name)

    async def artifact_put(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        async def call() -> Response:
            # Exempt from the core body limit (core/http.py): refuse an announced oversize before reading a byte;
            # the forwarder counts a chunked body as it streams.
            guards.check_content_length(request.headers.get("content-length"), limit=forwarder.max_artifact_bytes)
            path = _artifact_path(request)
            workspace = await tenant_workspace(request, principal.tenant_id)
            guard = _guard(request, principal, workspace)
            await _may_change(guard, principal, path, deleting=False)
            await guard.claim(path)
            try:
                return await forwarder.upload(
                    path=path,
                    body=request.stream(),
                    content_type=request.headers.get("content-type"),
                    workspace=workspace,
                    route=spec.name,
                )
            except BaseException:
                await asyncio.shield(guard.release(path))
                raise

        return await _audited(request, principal, spec, call)

    async def artifact_delete(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        async def call() -> Response:
            path = _artifact_path(request)
            if artifacts.owner_of(path) is None:
                raise MlflowApiError(
                    400, "INVALID_PARAMETER_VALUE", "Only artifacts inside a run's or a logged model's artifact "
                    "directory can be deleted.",
                )  # fmt: skip
            workspace = await tenant_workspace(request, principal.tenant_id)
            await _may_change(_guard(request, principal, workspace), principal, path, deleting=True)
            return await forwarder.delete(path=path, workspace=workspace, route=spec.name)

        return await _audited(request, principal, spec, call)

    return {
        "json": json_call,
        "artifact_list": artifact_list,
        "artifact_get": artifact_get,
        "artifact_put": artifact_put,
        "artifact_delete": artifact_delete,
    }[spec.kind]


for _spec in ROUTES:
    router.add_api_route(
        "/" + _spec.path,
        _endpoint(_spec),
        methods=[_spec.method],
        dependencies=[Authorize(_spec.permission)],
        name=_spec.name,
        include_in_schema=False,
    )
