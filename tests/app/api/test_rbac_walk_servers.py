"""The RBAC walk: every route, for every role, on a real server stack; allow/deny must equal the matrix.

Allowed: any status but 401/403 (a random id answers 404, an empty body 422: the request got past RBAC).
Denied: 403, audited as `denied`. Every non-public route declares exactly one permission.
"""

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.core.rbac import MATRIX, ROLES
from maestro_api.main import create_app

from tests.app.api.walk import PUBLIC_PATHS, operations
from tests.app.conftest import app_client, auth, bootstrap, small_limits

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def test_every_route_declares_exactly_one_permission() -> None:
    ops = operations(create_app(Settings()))
    assert len(ops) >= 20
    for op in ops:
        if op.path in PUBLIC_PATHS:
            assert not op.permissions, op
        else:
            assert len(op.permissions) == 1, f"{op.method} {op.path} declares {sorted(op.permissions)}"


async def test_rbac_walk_every_route_every_role(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"rate_limits": small_limits(100_000, 100_000)})
    keys = {role: await bootstrap(settings, "walk", role=role) for role in ROLES}
    async with app_client(settings) as client:
        ops = [op for op in operations(client.app) if op.path not in PUBLIC_PATHS]  # type: ignore[attr-defined]
        mismatches = []
        checked = 0
        for op in ops:
            (permission,) = op.permissions
            for role in ROLES:
                body = {} if op.method in ("POST", "PUT", "PATCH") else None
                r = await client.request(op.method, op.url(), json=body, headers=auth(keys[role]))
                allowed = permission in MATRIX[role]
                ok = r.status_code not in (401, 403) if allowed else r.status_code == 403
                if not ok:
                    mismatches.append(f"{role} {op.method} {op.path} ({permission}): {r.status_code} {r.text[:200]}")
                checked += 1
        assert not mismatches, "\n".join(mismatches)
        assert checked == len(ops) * len(ROLES)
        # Denials are audited (checked with a tenant-admin key: audit:read).
        events = (await client.get("/v1/audit-events?limit=500", headers=auth(keys["tenant-admin"]))).json()["items"]
        assert any(e["outcome"] == "denied" for e in events)


async def test_unauthenticated_walk_is_401_everywhere(client: httpx.AsyncClient) -> None:
    for op in operations(client.app):  # type: ignore[attr-defined]
        if op.path in PUBLIC_PATHS:
            continue
        r = await client.request(op.method, op.url(), json={} if op.method in ("POST", "PATCH", "PUT") else None)
        assert r.status_code == 401, (op, r.status_code)
        assert "www-authenticate" in r.headers
