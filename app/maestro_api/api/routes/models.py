"""Registered models, their versions, aliases and tags: the tenant's model registry (MLflow behind it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from maestro_api.api.deps import Authorize, SessionDep
from maestro_api.core.audit import record_audit
from maestro_api.core.security import Principal
from maestro_api.registry.runtime import FreshDep, RegistryDep, json_response
from maestro_api.registry.schemas import (
    ALIAS_PATTERN,
    NAME_PATTERN,
    TAG_KEY_PATTERN,
    VERSION_PATTERN,
    AliasSet,
    ModelCreate,
    ModelPage,
    ModelPublic,
    ModelUpdate,
    Promote,
    TagValue,
    VersionCreate,
    VersionPage,
    VersionPublic,
    VersionUpdate,
)

router = APIRouter(prefix="/models", tags=["models"])

ModelName = Annotated[str, Path(pattern=NAME_PATTERN, description="Registered model name.")]
VersionNumber = Annotated[str, Path(pattern=VERSION_PATTERN)]
AliasName = Annotated[str, Path(pattern=ALIAS_PATTERN)]
TagKey = Annotated[str, Path(pattern=TAG_KEY_PATTERN)]
PageToken = Annotated[str | None, Query(max_length=4000)]
MaxResults = Annotated[int, Query(ge=1, le=1000)]


async def _audit(session: SessionDep, principal: Principal, request: Request, action: str, target: str) -> None:
    await record_audit(session, principal=principal, action=action, target=target, outcome="success", request=request)


# --- registered models ----------------------------------------------------------------------------------------
@router.get("", response_model=ModelPage)
async def search_models(
    principal: Annotated[Principal, Authorize("models:read")],
    registry: RegistryDep,
    fresh: FreshDep,
    filter: Annotated[
        str | None, Query(max_length=2000, description="MLflow filter, evaluated in your tenant.")
    ] = None,
    max_results: MaxResults = 100,
    page_token: PageToken = None,
) -> Response:
    """Search the tenant's registered models."""
    body = await registry.search_models(
        principal.tenant_id, filter_=filter, max_results=max_results, page_token=page_token, fresh=fresh
    )
    return json_response(body)


@router.post("", response_model=ModelPublic, status_code=201)
async def create_model(
    spec: ModelCreate,
    principal: Annotated[Principal, Authorize("models:create")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    """Register a model."""
    body = await registry.create_model(
        principal.tenant_id, name=spec.name, description=spec.description, tags=spec.tags
    )
    await _audit(session, principal, request, "models:create", f"model:{spec.name}")
    return json_response(body, 201)


@router.get("/{name}", response_model=ModelPublic)
async def get_model(
    name: ModelName, principal: Annotated[Principal, Authorize("models:read")], registry: RegistryDep, fresh: FreshDep
) -> Response:
    """A registered model with its latest versions, aliases and tags (cached)."""
    return json_response(await registry.get_model(principal.tenant_id, name, fresh=fresh))


@router.patch("/{name}", response_model=ModelPublic)
async def update_model(
    name: ModelName,
    spec: ModelUpdate,
    principal: Annotated[Principal, Authorize("models:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    body = await registry.update_model(principal.tenant_id, name, description=spec.description)
    await _audit(session, principal, request, "models:update", f"model:{name}")
    return json_response(body)


@router.delete("/{name}", status_code=204)
async def delete_model(
    name: ModelName,
    principal: Annotated[Principal, Authorize("models:delete")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.delete_model(principal.tenant_id, name)
    await _audit(session, principal, request, "models:delete", f"model:{name}")
    return Response(status_code=204)


@router.put("/{name}/tags/{key}", status_code=204)
async def set_model_tag(
    name: ModelName,
    key: TagKey,
    spec: TagValue,
    principal: Annotated[Principal, Authorize("models:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.set_model_tag(principal.tenant_id, name, key, spec.value)
    await _audit(session, principal, request, "models:update", f"model:{name}:tag:{key}")
    return Response(status_code=204)


@router.delete("/{name}/tags/{key}", status_code=204)
async def delete_model_tag(
    name: ModelName,
    key: TagKey,
    principal: Annotated[Principal, Authorize("models:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.delete_model_tag(principal.tenant_id, name, key)
    await _audit(session, principal, request, "models:update", f"model:{name}:tag:{key}")
    return Response(status_code=204)


# --- versions ---------------------------------------------------------------------------------------------------
@router.get("/{name}/versions", response_model=VersionPage)
async def list_versions(
    name: ModelName,
    principal: Annotated[Principal, Authorize("versions:read")],
    registry: RegistryDep,
    fresh: FreshDep,
    max_results: MaxResults = 100,
    page_token: PageToken = None,
) -> Response:
    body = await registry.search_versions(
        principal.tenant_id, name, max_results=max_results, page_token=page_token, fresh=fresh
    )
    return json_response(body)


@router.post("/{name}/versions", response_model=VersionPublic, status_code=201)
async def create_version(
    name: ModelName,
    spec: VersionCreate,
    principal: Annotated[Principal, Authorize("versions:create")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    """Create a version; its source must lie under the tenant's artifact root (422 otherwise)."""
    body = await registry.create_version(
        principal.tenant_id,
        name,
        source=spec.source,
        run_id=spec.run_id,
        description=spec.description,
        tags=spec.tags,
    )
    await _audit(session, principal, request, "versions:create", f"model:{name}")
    return json_response(body, 201)


@router.get("/{name}/versions/{version}", response_model=VersionPublic)
async def get_version(
    name: ModelName,
    version: VersionNumber,
    principal: Annotated[Principal, Authorize("versions:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    return json_response(await registry.get_version(principal.tenant_id, name, version, fresh=fresh))


@router.patch("/{name}/versions/{version}", response_model=VersionPublic)
async def update_version(
    name: ModelName,
    version: VersionNumber,
    spec: VersionUpdate,
    principal: Annotated[Principal, Authorize("versions:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    body = await registry.update_version(principal.tenant_id, name, version, description=spec.description)
    await _audit(session, principal, request, "versions:update", f"model:{name}:version:{version}")
    return json_response(body)


@router.delete("/{name}/versions/{version}", status_code=204)
async def delete_version(
    name: ModelName,
    version: VersionNumber,
    principal: Annotated[Principal, Authorize("versions:delete")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.delete_version(principal.tenant_id, name, version)
    await _audit(session, principal, request, "versions:delete", f"model:{name}:version:{version}")
    return Response(status_code=204)


@router.put("/{name}/versions/{version}/tags/{key}", status_code=204)
async def set_version_tag(
    name: ModelName,
    version: VersionNumber,
    key: TagKey,
    spec: TagValue,
    principal: Annotated[Principal, Authorize("versions:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.set_version_tag(principal.tenant_id, name, version, key, spec.value)
    await _audit(session, principal, request, "versions:update", f"model:{name}:version:{version}:tag:{key}")
    return Response(status_code=204)


@router.delete("/{name}/versions/{version}/tags/{key}", status_code=204)
async def delete_version_tag(
    name: ModelName,
    version: VersionNumber,
    key: TagKey,
    principal: Annotated[Principal, Authorize("versions:update")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.delete_version_tag(principal.tenant_id, name, version, key)
    await _audit(session, principal, request, "versions:update", f"model:{name}:version:{version}:tag:{key}")
    return Response(status_code=204)


@router.post("/{name}/versions/{version}/promote", response_model=VersionPublic)
async def promote_version(
    name: ModelName,
    version: VersionNumber,
    spec: Promote,
    principal: Annotated[Principal, Authorize("models:promote")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    """Promote a version: point the production alias (``champion`` by default) at it."""
    await registry.set_alias(principal.tenant_id, name, spec.alias, version=version)
    await _audit(session, principal, request, "models:promote", f"model:{name}:alias:{spec.alias}->{version}")
    return json_response(await registry.get_version(principal.tenant_id, name, version))


# --- aliases ----------------------------------------------------------------------------------------------------
@router.get("/{name}/aliases/{alias}", response_model=VersionPublic)
async def get_alias(
    name: ModelName,
    alias: AliasName,
    principal: Annotated[Principal, Authorize("versions:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    """The version an alias points at (cached)."""
    return json_response(await registry.get_alias(principal.tenant_id, name, alias, fresh=fresh))


@router.put("/{name}/aliases/{alias}", response_model=VersionPublic)
async def set_alias(
    name: ModelName,
    alias: AliasName,
    spec: AliasSet,
    principal: Annotated[Principal, Authorize("aliases:set")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.set_alias(principal.tenant_id, name, alias, version=spec.version)
    await _audit(session, principal, request, "aliases:set", f"model:{name}:alias:{alias}->{spec.version}")
    return json_response(await registry.get_version(principal.tenant_id, name, spec.version))


@router.delete("/{name}/aliases/{alias}", status_code=204)
async def delete_alias(
    name: ModelName,
    alias: AliasName,
    principal: Annotated[Principal, Authorize("aliases:delete")],
    session: SessionDep,
    registry: RegistryDep,
    request: Request,
) -> Response:
    await registry.delete_alias(principal.tenant_id, name, alias)
    await _audit(session, principal, request, "aliases:delete", f"model:{name}:alias:{alias}")
    return Response(status_code=204)
