"""Every route names its permission once; every mutation of /v1 is ``Audited`` (so it leaves its one event),
owns the request's transaction through it, and every read is not (no server)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from maestro_api.api.deps import Audited, AuditedCheck, Authorize, PermissionCheck, Requirement, get_session
from maestro_api.core.config import Settings
from maestro_api.main import create_app

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Reads that are POST because of their body (they change nothing).
POST_READS = {"/v1/runs/search"}


def calls(dependant: Any) -> list[Any]:
    found, stack = [], [dependant]
    while stack:
        d = stack.pop()
        found.append(d.call)
        stack.extend(d.dependencies)
    return found


def v1_routes() -> list[Any]:
    return [rc for rc in iter_route_contexts(create_app(Settings()).routes) if str(rc.path).startswith("/v1/")]


def test_every_v1_mutation_is_audited_and_every_read_only_authorized() -> None:
    checked = 0
    for rc in v1_routes():
        requirements = [c for c in calls(rc.dependant) if isinstance(c, Requirement)]
        assert len(requirements) == 1, rc.path
        (requirement,) = requirements
        mutating = bool(set(rc.methods) & MUTATING) and rc.path not in POST_READS
        kind = AuditedCheck if mutating else PermissionCheck
        assert type(requirement) is kind, f"{sorted(rc.methods)} {rc.path}: {requirement!r}"
        if mutating:
            # The mutation's transaction is the request's only one.
            assert get_session not in calls(rc.dependant), f"{sorted(rc.methods)} {rc.path} also takes SessionDep"
        checked += 1
    assert checked >= 40


def test_the_dependencies_carry_their_permission_and_refuse_an_unknown_one() -> None:
    assert Authorize("models:read").permission == "models:read"
    assert Audited("models:update").permission == "models:update"
    assert Audited("models:update").scope == "function"  # written and committed before the response
    for make in (Authorize, Audited):
        with pytest.raises(ValueError, match="unknown permission"):
            make("models:fly")
