"""Tenant isolation on real PostgreSQL: RLS enabled and forced on every tenant-owned table, the service role is
not the owner, a query without a tenant filter sees only the current tenant, and every core route answers 404
for another tenant's object and never lists it."""

import uuid
from typing import Any

import httpx
import psycopg
import pytest
from maestro_api.core.config import Settings
from maestro_api.core.db import create_engine, create_sessionmaker, tenant_transaction
from maestro_api.models import ApiKey, AuditEvent, Quota, Tenant, User
from sqlalchemy import select

from tests.app.api.walk import CORE_MODULES, PUBLIC_PATHS, operations
from tests.app.conftest import SERVICE, auth, bootstrap
from tests.servers import PgServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


def tenant_owned_tables(conn: psycopg.Connection[Any]) -> dict[str, tuple[bool, bool, str]]:
    rows = conn.execute(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                       AND NOT a.attisdropped) OR c.relname = 'tenants')
        """
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_rls_is_enabled_and_forced_on_every_tenant_owned_table(pg_server: PgServer, api_settings: Settings) -> None:
    url = pg_server.url(api_settings.database_url.rsplit("/", 1)[1]).replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        tables = tenant_owned_tables(conn)
    assert {"tenants", "quotas", "users", "api_keys", "audit_events", "audit_chain_heads"} <= set(tables)
    for name, (enabled, forced, owner) in tables.items():
        assert enabled and forced, f"{name}: RLS enabled={enabled} forced={forced}"
        assert owner != SERVICE, f"{name} is owned by the service role"


async def test_a_query_without_tenant_filter_sees_only_the_current_tenant(api_settings: Settings) -> None:
    await bootstrap(api_settings, "alpha")
    await bootstrap(api_settings, "beta")
    engine = create_engine(api_settings)
    maker = create_sessionmaker(engine)
    try:
        async with maker() as s, s.begin():
            # No tenant set: RLS shows nothing at all.
            assert (await s.scalars(select(ApiKey))).all() == []
            assert (await s.scalars(select(Tenant))).all() == []
        ids = {}
        for name in ("alpha", "beta"):
            async with tenant_transaction(maker, tenant_id=uuid.UUID(int=0), platform=True) as s:
                ids[name] = (await s.scalars(select(Tenant.id).where(Tenant.name == name))).one()
        for name, other in (("alpha", "beta"), ("beta", "alpha")):
            async with tenant_transaction(maker, tenant_id=ids[name]) as s:
                for model in (ApiKey, Quota, AuditEvent):
                    rows = (await s.scalars(select(model))).all()  # deliberately no WHERE tenant_id = ...
                    assert rows, model
                    assert {r.tenant_id for r in rows} == {ids[name]}, model
                assert [t.name for t in (await s.scalars(select(Tenant))).all()] == [name]
                # Writing into another tenant is refused by the policy's WITH CHECK.
                s.add(User(id=uuid.uuid4(), tenant_id=ids[other], email="x@y.z", role="viewer"))
                with pytest.raises(Exception, match="row-level security"):
                    await s.flush()
                await s.rollback()
    finally:
        await engine.dispose()


async def test_tenant_context_does_not_leak_between_pooled_transactions(api_settings: Settings) -> None:
    await bootstrap(api_settings, "alpha")
    engine = create_engine(api_settings.model_copy(update={"database_pool_size": 1, "database_max_overflow": 0}))
    maker = create_sessionmaker(engine)
    try:
        async with tenant_transaction(maker, tenant_id=uuid.UUID(int=0), platform=True) as s:
            alpha = (await s.scalars(select(Tenant.id))).one()
        async with tenant_transaction(maker, tenant_id=alpha) as s:
            assert (await s.scalars(select(ApiKey))).all()
        async with maker() as s, s.begin():  # same pooled connection, new transaction, nothing set
            assert (await s.scalars(select(ApiKey))).all() == []
    finally:
        await engine.dispose()


async def _objects(client: httpx.AsyncClient, key: str, root: str, name: str) -> dict[str, str]:
    """Create one of each core object in a tenant; return path-parameter values naming them."""
    tenants = (await client.get("/v1/tenants", headers=auth(root))).json()
    tenant_id = next(t["id"] for t in tenants if t["name"] == name)
    user = (await client.post("/v1/users", json={"email": f"u@{name}.test"}, headers=auth(key))).json()
    body = {"name": f"{name}-k", "user_id": user["id"]}
    api_key = (await client.post("/v1/api-keys", json=body, headers=auth(key))).json()
    return {"tenant_id": tenant_id, "user_id": user["id"], "key_id": api_key["id"]}


async def test_isolation_walk_over_every_core_route(api_settings: Settings, client: httpx.AsyncClient) -> None:
    root = await bootstrap(api_settings, "platform", role="platform-admin")
    key_a = await bootstrap(api_settings, "alpha")
    key_b = await bootstrap(api_settings, "beta")
    a = await _objects(client, key_a, root, "alpha")
    b = await _objects(client, key_b, root, "beta")
    ops = [o for o in operations(client.app) if o.module in CORE_MODULES and o.path not in PUBLIC_PATHS]  # type: ignore[attr-defined]
    walked = 0
    # Lists first: afterwards alpha's own audit trail names the beta ids alpha tried (its own requests, no leak).
    for op in sorted(ops, key=lambda o: bool(o.params)):
        if op.params:
            # Alpha's tenant admin names beta's objects: 404 (403 where alpha's role lacks the permission anyway).
            body = {} if op.method in ("PATCH", "PUT", "POST") else None
            r = await client.request(op.method, op.url(**b), json=body, headers=auth(key_a))
            assert r.status_code in (403, 404), (op, r.status_code, r.text)
            # The problem document may echo the requested path, never beta's data.
            assert r.headers["content-type"] == "application/problem+json"
            assert "beta" not in r.text and "u@beta.test" not in r.text, op
        elif op.method == "GET":
            r = await client.get(op.url(), headers=auth(key_a))
            assert r.status_code == 200, (op, r.text)
            for value in b.values():
                assert value not in r.text, (op, value)
            assert a["tenant_id"] in r.text or op.path == "/v1/roles", op
        walked += 1
    assert walked >= 12
    # Beta's objects are untouched and still visible to beta.
    assert (await client.get(f"/v1/users/{b['user_id']}", headers=auth(key_b))).status_code == 200
    assert (await client.get(f"/v1/api-keys/{b['key_id']}", headers=auth(key_b))).status_code == 200
    # A platform admin does see across tenants (by design), a tenant admin does not.
    assert (await client.get(f"/v1/tenants/{b['tenant_id']}", headers=auth(root))).status_code == 200
    assert (await client.get(f"/v1/quotas/{b['tenant_id']}", headers=auth(key_a))).status_code == 404
    r = await client.get(f"/v1/audit-events?tenant_id={b['tenant_id']}", headers=auth(key_a))
    assert r.status_code == 404
