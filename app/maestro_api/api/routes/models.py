"""Registered models, their versions, aliases and tags: the tenant's model registry (MLflow behind it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from maestro_api.api.deps import Audited, Authorize, Mutation
from maestro_api.api.dispatch import direct
from maestro_api.core.security import Principal
from maestro_api.registry import operations as ops
from maestro_api.registry import quotas
from maestro_api.registry.runtime import FilteredPage, FreshDep, MaxResults, PageToken, RegistryDep, json_response
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


# --- registered models ----------------------------------------------------------------------------------------
@router.get("", response_model=ModelPage)
async def search_models(
    principal: Annotated[Principal, Authorize("models:read")],
    registry: RegistryDep,
    fresh: FreshDep,
    page: FilteredPage,
) -> Response:
    """Search the tenant's registered models."""
    body = await registry.run(ops.SEARCH_MODELS, principal.tenant_id, fresh=fresh, **page)
    return json_response(body)


@router.post("", response_model=ModelPublic, status_code=201)
async def create_model(
    spec: ModelCreate, change: Annotated[Mutation, Audited("models:create")], registry: RegistryDep
) -> Response:
    """Register a model; 409 past the tenant's ``max_models`` (checked atomically)."""
    async with quotas.model_slot(change.session, registry, tenant_id=change.tenant_id):
        body = await registry.run(
            ops.CREATE_MODEL, change.tenant_id, name=spec.name, description=spec.description, tags=spec.tags
        )
    change.target = f"model:{spec.name}"
    return json_response(body, 201)


@router.get("/{name}", response_model=ModelPublic)
@direct
async def get_model(
    name: ModelName, principal: Annotated[Principal, Authorize("models:read")], registry: RegistryDep, fresh: FreshDep
) -> Response:
    """A registered model with its latest versions, aliases and tags (cached)."""
    return json_response(await registry.run(ops.GET_MODEL, principal.tenant_id, fresh=fresh, name=name))


@router.patch("/{name}", response_model=ModelPublic)
async def update_model(
    name: ModelName, spec: ModelUpdate, change: Annotated[Mutation, Audited("models:update")], registry: RegistryDep
) -> Response:
    body = await registry.run(ops.UPDATE_MODEL, change.tenant_id, name=name, description=spec.description)
    change.target = f"model:{name}"
    return json_response(body)


@router.delete("/{name}", status_code=204)
async def delete_model(
    name: ModelName, change: Annotated[Mutation, Audited("models:delete")], registry: RegistryDep
) -> Response:
    await registry.run(ops.DELETE_MODEL, change.tenant_id, name=name)
    change.target = f"model:{name}"
    return Response(status_code=204)


@router.put("/{name}/tags/{key}", status_code=204)
async def set_model_tag(
    name: ModelName,
    key: TagKey,
    spec: TagValue,
    change: Annotated[Mutation, Audited("models:update")],
    registry: RegistryDep,
) -> Response:
    await registry.run(ops.SET_MODEL_TAG, change.tenant_id, name=name, key=key, value=spec.value)
    change.target = f"model:{name}:tag:{key}"
    return Response(status_code=204)


@router.delete("/{name}/tags/{key}", status_code=204)
async def delete_model_tag(
    name: ModelName, key: TagKey, change: Annotated[Mutation, Audited("models:update")], registry: RegistryDep
) -> Response:
    await registry.run(ops.DELETE_MODEL_TAG, change.tenant_id, name=name, key=key)
    change.target = f"model:{name}:tag:{key}"
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
    body = await registry.run(
        ops.SEARCH_VERSIONS, principal.tenant_id, fresh=fresh, filter=ops.version_filter(name),
        max_results=max_results, page_token=page_token,
    )  # fmt: skip
    return json_response(body)


@router.post("/{name}/versions", response_model=VersionPublic, status_code=201)
async def create_version(
    name: ModelName,
    spec: VersionCreate,
    change: Annotated[Mutation, Audited("versions:create")],
    registry: RegistryDep,
) -> Response:
    """Create a version; its source must lie under the tenant's artifact root (422 otherwise)."""
    body = await registry.run(
        ops.CREATE_VERSION, change.tenant_id, name=name, source=spec.source, run_id=spec.run_id,
        description=spec.description, tags=spec.tags,
    )  # fmt: skip
    change.target = f"model:{name}"
    return json_response(body, 201)


@router.get("/{name}/versions/{version}", response_model=VersionPublic)
@direct
async def get_version(
    name: ModelName,
    version: VersionNumber,
    principal: Annotated[Principal, Authorize("versions:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    body = await registry.run(ops.GET_VERSION, principal.tenant_id, fresh=fresh, name=name, version=version)
    return json_response(body)


@router.patch("/{name}/versions/{version}", response_model=VersionPublic)
async def update_version(
    name: ModelName,
    version: VersionNumber,
    spec: VersionUpdate,
    change: Annotated[Mutation, Audited("versions:update")],
    registry: RegistryDep,
) -> Response:
    body = await registry.run(
        ops.UPDATE_VERSION, change.tenant_id, name=name, version=version, description=spec.description
    )
    change.target = f"model:{name}:version:{version}"
    return json_response(body)


@router.delete("/{name}/versions/{version}", status_code=204)
async def delete_version(
    name: ModelName,
    version: VersionNumber,
    change: Annotated[Mutation, Audited("versions:delete")],
    registry: RegistryDep,
) -> Response:
    await registry.run(ops.DELETE_VERSION, change.tenant_id, name=name, version=version)
    change.target = f"model:{name}:version:{version}"
    return Response(status_code=204)


@router.put("/{name}/versions/{version}/tags/{key}", status_code=204)
async def set_version_tag(
    name: ModelName,
    version: VersionNumber,
    key: TagKey,
    spec: TagValue,
    change: Annotated[Mutation, Audited("versions:update")],
    registry: RegistryDep,
) -> Response:
    await registry.run(ops.SET_VERSION_TAG, change.tenant_id, name=name, version=version, key=key, value=spec.value)
    change.target = f"model:{name}:version:{version}:tag:{key}"
    return Response(status_code=204)


@router.delete("/{name}/versions/{version}/tags/{key}", status_code=204)
async def delete_version_tag(
    name: ModelName,
    version: VersionNumber,
    key: TagKey,
    change: Annotated[Mutation, Audited("versions:update")],
    registry: RegistryDep,
) -> Response:
    await registry.run(ops.DELETE_VERSION_TAG, change.tenant_id, name=name, version=version, key=key)
    change.target = f"model:{name}:version:{version}:tag:{key}"
    return Response(status_code=204)


@router.post("/{name}/versions/{version}/promote", response_model=VersionPublic)
async def promote_version(
    name: ModelName,
    version: VersionNumber,
    spec: Promote,
    change: Annotated[Mutation, Audited("models:promote")],
    registry: RegistryDep,
) -> Response:
    """Promote a version: point the production alias (``champion`` by default) at it."""
    body = await registry.run(ops.SET_ALIAS, change.tenant_id, name=name, alias=spec.alias, version=version)
    change.target = f"model:{name}:alias:{spec.alias}->{version}"
    return json_response(body)


# --- aliases ----------------------------------------------------------------------------------------------------
@router.get("/{name}/aliases/{alias}", response_model=VersionPublic)
@direct
async def get_alias(
    name: ModelName,
    alias: AliasName,
    principal: Annotated[Principal, Authorize("versions:read")],
    registry: RegistryDep,
    fresh: FreshDep,
) -> Response:
    """The version an alias points at (cached)."""
    return json_response(await registry.run(ops.GET_ALIAS, principal.tenant_id, fresh=fresh, name=name, alias=alias))


@router.put("/{name}/aliases/{alias}", response_model=VersionPublic)
async def set_alias(
    name: ModelName,
    alias: AliasName,
    spec: AliasSet,
    change: Annotated[Mutation, Audited("aliases:set")],
    registry: RegistryDep,
) -> Response:
    body = await registry.run(ops.SET_ALIAS, change.tenant_id, name=name, alias=alias, version=spec.version)
    change.target = f"model:{name}:alias:{alias}->{spec.version}"
    return json_response(body)


@router.delete("/{name}/aliases/{alias}", status_code=204)
async def delete_alias(
    name: ModelName, alias: AliasName, change: Annotated[Mutation, Audited("aliases:delete")], registry: RegistryDep
) -> Response:
    await registry.run(ops.DELETE_ALIAS, change.tenant_id, name=name, alias=alias)
    change.target = f"model:{name}:alias:{alias}"
    return Response(status_code=204)
