"""Route discovery for the RBAC and tenant-isolation walks: every route of the app with its permission."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from maestro_api.api.deps import route_permissions
from maestro_api.ui.routes import UiApiRoute
from starlette.routing import BaseRoute, Mount

PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json"}
CORE_MODULES = {
    f"maestro_api.api.routes.{m}" for m in ("roles", "tenants", "quotas", "users", "api_keys", "audit", "health")
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permissions: frozenset[str]
    module: str

    def url(self, **values: str) -> str:
        """The path with each ``{param}`` replaced from ``values`` or a random value that matches nothing."""

        def fill(m: re.Match[str]) -> str:
            name = m.group(1).split(":")[0]
            return values.get(name, str(uuid.uuid4()) if name.endswith("id") else f"walk-{uuid.uuid4().hex[:8]}")

        return re.sub(r"\{([^}]+)\}", fill, self.path)

    @property
    def params(self) -> list[str]:
        return [p.split(":")[0] for p in re.findall(r"\{([^}]+)\}", self.path)]


def operations(app: FastAPI, *, ui: bool = False) -> list[Operation]:
    """Every operation of the app, the routes of mounted routers (``/mlflow``) included with their full path: those
    with a bearer credential, or (``ui``) the web UI's, whose credential is a browser session (tests/app/ui/)."""
    return list(_operations(app.routes, prefix="", ui=ui))


def _operations(routes: Sequence[BaseRoute], *, prefix: str, ui: bool) -> Iterator[Operation]:
    for rc in iter_route_contexts(routes):
        if isinstance(rc.original_route, Mount):
            yield from _operations(rc.original_route.routes, prefix=prefix + rc.original_route.path, ui=ui)
            continue
        if isinstance(rc.original_route, UiApiRoute) != ui:
            continue
        dependant = getattr(rc, "dependant", None)
        for method in sorted((rc.methods or set()) - {"HEAD"}):
            perms = frozenset(route_permissions(dependant)) if dependant is not None else frozenset()
            module = getattr(rc.endpoint, "__module__", "")
            yield Operation(method=method, path=prefix + str(rc.path), permissions=perms, module=module)
