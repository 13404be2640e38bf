"""``Audited``: a mutation that passes its permission check leaves exactly one audit event, whatever the outcome,
its action the route's one permission; on real PostgreSQL (the core routes, no MLflow)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from maestro_api.api.deps import Audited, Mutation
from maestro_api.core.config import Settings
from maestro_api.models import User

from tests.app.conftest import app_client, auth, bootstrap

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def events(client: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/audit-events", params={"limit": 500}, headers=auth(key))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def new_events(client: httpx.AsyncClient, key: str, seen: int) -> list[tuple[str, str, str]]:
    return [(e["action"], e["outcome"], e["target"]) for e in await events(client, key) if e["seq"] > seen]


async def test_one_event_per_mutation_whatever_the_outcome(api_settings: Settings, client: httpx.AsyncClient) -> None:
    admin = await bootstrap(api_settings, "acme")
    viewer = await bootstrap(api_settings, "acme", role="viewer")

    async def step(method: str, path: str, key: str, body: Any, status: int) -> list[tuple[str, str, str]]:
        seen = max((e["seq"] for e in await events(client, admin)), default=0)
        r = await client.request(method, path, json=body, headers=auth(key))
        assert r.status_code == status, r.text
        return await new_events(client, admin, seen)

    # Success: the route's target, written in the mutation's own transaction.
    (event,) = await step("POST", "/v1/users", admin, {"email": "a@acme.test"}, 201)
    assert event[:2] == ("users:invite", "success") and event[2].startswith("user:")
    # Failure raised by the route (a duplicate: 409): rolled back, recorded on its own, naming the request.
    assert await step("POST", "/v1/users", admin, {"email": "a@acme.test"}, 409) == [
        ("users:invite", "failure", "POST /v1/users")
    ]
    # A refusal by the route itself (a role above the caller's own): denied.
    assert await step("POST", "/v1/api-keys", admin, {"name": "k", "role": "platform-admin"}, 403) == [
        ("api_keys:create", "denied", "POST /v1/api-keys")
    ]
    # The permission check refuses: one denied event, not two.
    assert await step("POST", "/v1/users", viewer, {"email": "b@acme.test"}, 403) == [
        ("users:invite", "denied", "POST /v1/users")
    ]
    # A body that does not match the schema never reaches the route: no event (as before).
    assert await step("POST", "/v1/users", admin, {"email": "not-an-email", "extra": 1}, 422) == []


async def test_the_success_event_commits_with_the_change_and_a_failure_leaves_no_change(
    api_settings: Settings, client: httpx.AsyncClient
) -> None:
    admin = await bootstrap(api_settings, "acme")
    user = (await client.post("/v1/users", json={"email": "k@acme.test"}, headers=auth(admin))).json()
    body = {"name": "k", "role": "viewer", "user_id": user["id"]}
    created = await client.post("/v1/api-keys", json=body, headers=auth(admin))
    assert created.status_code == 201
    key_id = created.json()["id"]
    mine = [e for e in await events(client, admin) if e["target"] == f"api_key:{key_id}"]
    assert [(e["action"], e["outcome"]) for e in mine] == [("api_keys:create", "success")]
    r = await client.delete(f"/v1/api-keys/{key_id}", headers=auth(admin))
    assert r.status_code == 204
    listed = {k["id"]: k for k in (await client.get("/v1/api-keys", headers=auth(admin))).json()}
    assert listed[key_id]["revoked_at"] is not None
    # The failed invite above rolls back the user row with its transaction.
    for _ in range(2):
        await client.post("/v1/users", json={"email": "dup@acme.test"}, headers=auth(admin))
    users = (await client.get("/v1/users", headers=auth(admin))).json()
    assert [u["email"] for u in users].count("dup@acme.test") == 1


async def test_a_crash_after_an_outside_change_leaves_one_failure_event(api_settings: Settings) -> None:
    """A route that changed something its transaction cannot roll back (MLflow) and then fails with any error, not
    only a problem response, still leaves exactly one event: the failure, with the target the route had set."""
    outside: list[str] = []  # stands for MLflow: a change that stays whatever the request's transaction does

    async def change_then_crash(change: Annotated[Mutation, Audited("users:invite")]) -> None:
        change.target = "user:outside"
        outside.append(change.target)
        change.session.add(User(tenant_id=change.tenant_id, email="ghost@acme.test", role="viewer"))
        await change.session.flush()
        raise RuntimeError("the step after the outside change failed")

    app = app_client(api_settings)
    app.app.add_api_route("/v1/test-crash", change_then_crash, methods=["POST"])
    async with app as client:
        admin = await bootstrap(api_settings, "acme")
        seen = max((e["seq"] for e in await events(client, admin)), default=0)
        r = await client.post("/v1/test-crash", headers=auth(admin))
        assert r.status_code == 500
        assert "the step after" not in r.text  # the error's text stays in the log
        assert outside == ["user:outside"]
        assert await new_events(client, admin, seen) == [("users:invite", "failure", "user:outside")]
        # The request's own transaction rolled back: the row it flushed is gone with the success event.
        users = (await client.get("/v1/users", headers=auth(admin))).json()
        assert "ghost@acme.test" not in [u["email"] for u in users]
