"""``/mlflow``: MLflow's REST API for the stock Python client (``MLFLOW_TRACKING_URI=https://<maestro>/mlflow``).

One route per allow-listed MLflow route (``maestro_api.mlflow_proxy.table``), each with its own permission.
Every call is forwarded in the caller's tenant workspace; mutations are audited; refusals answer in MLflow's
error shape. Not in the OpenAPI document: the contract is MLflow's own REST API.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from maestro_api.api.deps import Authorize, CurrentPrincipal
from maestro_api.mlflow_proxy import guards
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.mlflow_proxy.forward import ARTIFACTS_UPSTREAM, MlflowForwarder
from maestro_api.mlflow_proxy.runtime import MlflowRoute, audit, get_forwarder, tenant_workspace
from maestro_api.mlflow_proxy.table import ROUTES, ProxyRoute
from maestro_api.registry.service import RegistryService

PREFIX = "/mlflow"
"""Where the router is mounted (``maestro_api.api.main``); its routes' paths are relative to it."""
router = APIRouter(route_class=MlflowRoute, tags=["mlflow"])

ForwarderDep = Annotated[MlflowForwarder, Depends(get_forwarder)]
Endpoint = Callable[[Request, CurrentPrincipal, ForwarderDep], Awaitable[Response]]


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


async def _audited(
    request: Request, principal: CurrentPrincipal, spec: ProxyRoute, call: Callable[[], Awaitable[Response]]
) -> Response:
    """Run ``call``; audit its outcome if the route mutates (denials are audited by ``Authorize``)."""
    if not spec.mutating:
        return await call()
    target = f"mlflow:{spec.method} {request.url.path.removeprefix(PREFIX + '/')}"
    try:
        response = await call()
    except MlflowApiError:
        await audit(request, principal, action=spec.permission, target=target, ok=False)
        raise
    await audit(request, principal, action=spec.permission, target=target, ok=True)
    return response


def _endpoint(spec: ProxyRoute) -> Endpoint:
    async def json_call(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        async def call() -> Response:
            path = _upstream_path(spec, request)
            body = await _body(request, spec, principal)
            workspace = await tenant_workspace(request, principal.tenant_id)
            return await forwarder.json_call(
                method=spec.method,
                path=path,
                query=request.url.query,
                body=body,
                workspace=workspace,
                route=spec.name,
            )

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
            path = guards.check_artifact_path(str(request.path_params.get("artifact_path", "")))
            workspace = await tenant_workspace(request, principal.tenant_id)
            return await forwarder.upload(
                path=path,
                body=request.stream(),
                content_type=request.headers.get("content-type"),
                workspace=workspace,
                route=spec.name,
            )

        return await _audited(request, principal, spec, call)

    return {
        "json": json_call,
        "artifact_list": artifact_list,
        "artifact_get": artifact_get,
        "artifact_put": artifact_put,
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
