"""Registry integrity through the proxy, acting as the attacker, against a real artifact-serving MLflow: a
data scientist cannot overwrite, add to or delete the bytes behind a registered version (through /mlflow or /v1);
an ml-engineer with ``models:promote`` can delete them but never overwrite them; every path is write-once, also
under concurrent uploads and for files written before the API claimed them; missing artifacts answer 404; each
proxied mutation leaves exactly one audit event, and no MLflow text reaches the client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.registry import refusals
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER
from maestro_api.registry.scoping import workspace_for

from tests.app.conftest import app_client
from tests.app.registry.conftest import Tenant
from tests.mlflow_server import MlflowServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

ML = "/mlflow/api/2.0/mlflow"
ART = "/mlflow/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
async def api(proxy_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(proxy_settings) as c:
        yield c


async def call(api: httpx.AsyncClient, tenant: Tenant, role: str, method: str, route: str, **kw: Any) -> httpx.Response:
    return await api.request(method, f"{ML}/{route}", headers=tenant.h(role), **kw)


async def ok(api: httpx.AsyncClient, tenant: Tenant, role: str, method: str, route: str, **kw: Any) -> dict[str, Any]:
    r = await call(api, tenant, role, method, route, **kw)
    assert r.status_code == 200, (route, r.text)
    body: dict[str, Any] = r.json()
    return body


async def put(api: httpx.AsyncClient, tenant: Tenant, role: str, path: str, data: bytes) -> httpx.Response:
    headers = {**tenant.h(role), "Content-Type": "application/octet-stream"}
    return await api.put(f"{ART}/{path}", content=data, headers=headers)


async def run_root(api: httpx.AsyncClient, tenant: Tenant) -> tuple[str, str]:
    """A data scientist's experiment and run; returns (run id, the run's artifact directory as a proxy path)."""
    exp = await ok(api, tenant, "data-scientist", "POST", "experiments/create", json={"name": uuid.uuid4().hex})
    run = await ok(api, tenant, "data-scientist", "POST", "runs/create", json={"experiment_id": exp["experiment_id"]})
    info = run["run"]["info"]
    return info["run_id"], info["artifact_uri"].removeprefix("mlflow-artifacts:/")


async def registered_champion(api: httpx.AsyncClient, a: Tenant, name: str) -> tuple[str, str]:
    """A data scientist uploads model bytes and registers them; an ml-engineer aliases the version ``champion``.
    Returns (run id, the run's artifact directory)."""
    run_id, root = await run_root(api, a)
    assert (await put(api, a, "data-scientist", f"{root}/model/weights.bin", b"reviewed weights")).status_code == 200
    assert (await put(api, a, "data-scientist", f"{root}/model/MLmodel", b"flavors: {}\n")).status_code == 200
    await ok(api, a, "data-scientist", "POST", "registered-models/create", json={"name": name})
    source = f"mlflow-artifacts:/{root}/model"
    body = {"name": name, "source": source, "run_id": run_id}
    version = await ok(api, a, "data-scientist", "POST", "model-versions/create", json=body)
    assert version["model_version"]["version"] == "1"
    alias = {"name": name, "alias": "champion", "version": "1"}
    await ok(api, a, "ml-engineer", "POST", "registered-models/alias", json=alias)
    return run_id, root


async def test_a_data_scientist_cannot_change_the_bytes_behind_a_registered_version(
    api: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    _, root = await registered_champion(api, a, "churn")
    weights = f"{root}/model/weights.bin"

    # The reported attack: a PUT over the aliased version's file. Refused, and so is adding a file beside it.
    for path in (weights, f"{root}/model/MLmodel", f"{root}/model/extra.py"):
        r = await put(api, a, "data-scientist", path, b"evil weights")
        assert (r.status_code, r.json()["error_code"]) == (403, "PERMISSION_DENIED"), path
    # Deleting the file, its directory, the whole run's artifacts, or a prefix of them (an object store deletes
    # every key under a prefix, so "mod" would take "model/" with it): refused.
    for path in (weights, f"{root}/model", root, f"{root}/mod"):
        r = await api.delete(f"{ART}/{path}", headers=a.h("data-scientist"))
        assert (r.status_code, r.json()["error_code"]) == (403, "PERMISSION_DENIED"), path
    # Through /v1 the data scientist cannot delete or repoint the version either (no /v1 route writes bytes).
    assert (await api.delete("/v1/models/churn/versions/1", headers=a.h("data-scientist"))).status_code == 403
    assert (await api.delete("/v1/models/churn", headers=a.h("data-scientist"))).status_code == 403
    r = await api.put("/v1/models/churn/aliases/champion", json={"version": "1"}, headers=a.h("data-scientist"))
    assert r.status_code == 403

    # Whoever loads models:/churn@champion still gets the reviewed bytes.
    uri = await ok(api, a, "viewer", "GET", "model-versions/get-download-uri", params={"name": "churn", "version": "1"})
    assert uri["artifact_uri"] == f"mlflow-artifacts:/{root}/model"
    got = await api.get(f"{ART}/{weights}", headers=a.h("viewer"))
    assert (got.status_code, got.content) == (200, b"reviewed weights")

    # The run's other artifacts stay the data scientist's: new paths write once, and can be deleted.
    notes = f"{root}/notes/report.txt"
    assert (await put(api, a, "data-scientist", notes, b"v1")).status_code == 200
    again = await put(api, a, "data-scientist", notes, b"v2")
    assert (again.status_code, again.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")
    assert (await api.delete(f"{ART}/{notes}", headers=a.h("data-scientist"))).status_code == 200
    # A deleted path stays written: deleting and writing again would be an overwrite.
    assert (await put(api, a, "data-scientist", notes, b"v3")).status_code == 409
    # Deleting outside any run's or logged model's artifacts (a whole experiment, say) is refused outright.
    experiment_dir = root.rsplit("/", 2)[0]
    r = await api.delete(f"{ART}/{experiment_dir}", headers=a.h("ml-engineer"))
    assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


async def test_an_ml_engineer_may_delete_registered_bytes_but_never_overwrite_them(
    api: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    _, root = await registered_champion(api, a, "ranker")
    weights = f"{root}/model/weights.bin"
    r = await put(api, a, "ml-engineer", weights, b"engineer's weights")
    assert (r.status_code, r.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")
    assert (await api.get(f"{ART}/{weights}", headers=a.h("viewer"))).content == b"reviewed weights"
    # A new file beside the version's: allowed with models:promote (still write-once).
    assert (await put(api, a, "ml-engineer", f"{root}/model/README", b"notes")).status_code == 200
    assert (await api.delete(f"{ART}/{weights}", headers=a.h("ml-engineer"))).status_code == 200
    # Deleted: reading it answers 404 (not a 500), and writing it again is still an overwrite.
    missing = await api.get(f"{ART}/{weights}", headers=a.h("viewer"))
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert (await put(api, a, "ml-engineer", weights, b"engineer's weights")).status_code == 409


async def test_concurrent_uploads_of_one_path_exactly_one_wins(
    api: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = two_tenants
    _, root = await run_root(api, a)
    path = f"{root}/race.bin"
    payloads = [f"writer {i}".encode() * 1000 for i in range(8)]
    answers = await asyncio.gather(*(put(api, a, "data-scientist", path, p) for p in payloads))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * 7, statuses
    winner = payloads[[r.status_code for r in answers].index(200)]
    assert (await api.get(f"{ART}/{path}", headers=a.h("viewer"))).content == winner
    # Claims are per tenant: the same path in another tenant's workspace is another file.
    assert (await put(api, b, "data-scientist", path, b"b's own")).status_code == 200


async def test_files_written_before_the_api_claimed_them_are_write_once_too(
    api: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant], artifact_mlflow: MlflowServer
) -> None:
    """Artifacts stored before this version of the API (or past it) have no claim row: the first upload into their
    directory claims what MLflow lists there."""
    a, _ = two_tenants
    _, root = await run_root(api, a)
    # Written straight into MLflow's artifact proxy in the tenant's workspace, as an older API would have.
    for name in ("old.bin", "older.bin"):
        r = httpx.put(
            f"{artifact_mlflow.url}/api/2.0/mlflow-artifacts/artifacts/{root}/legacy/{name}",
            content=b"legacy bytes",
            headers={WORKSPACE_HEADER: workspace_for(a.id)},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    assert (await put(api, a, "data-scientist", f"{root}/legacy/new.bin", b"new")).status_code == 200
    for name in ("old.bin", "older.bin", "new.bin"):
        r = await put(api, a, "data-scientist", f"{root}/legacy/{name}", b"overwrite")
        assert (r.status_code, r.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS"), name
    assert (await api.get(f"{ART}/{root}/legacy/old.bin", headers=a.h("viewer"))).content == b"legacy bytes"


async def test_one_audit_event_per_proxied_mutation_whatever_the_outcome(
    api: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    _, root = await registered_champion(api, a, "audited")

    async def events() -> list[dict[str, Any]]:
        r = await api.get("/v1/audit-events", params={"limit": 500}, headers=a.h())
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    before = len(await events())
    cases: list[tuple[str, str, str, dict[str, Any], int, str]] = [
        # (role, method, route, request, status, outcome)
        ("data-scientist", "POST", "registered-models/create", {"json": {"name": "fresh"}}, 200, "success"),
        ("data-scientist", "POST", "registered-models/create", {"json": {"name": "fresh"}}, 409, "failure"),
        ("data-scientist", "POST", "experiments/create", {"json": {"name": "e", "artifact_location": "/x"}}, 400,
         "failure"),
        ("data-scientist", "POST", "runs/log-metric", {"json": {"run_id": "0" * 32, "key": "k", "value": 1,
                                                                 "timestamp": 1}}, 404, "failure"),
        ("data-scientist", "POST", "registered-models/alias", {"json": {"name": "fresh", "alias": "a",
                                                                        "version": "1"}}, 403, "denied"),
        ("ml-engineer", "DELETE", "registered-models/alias", {"json": {"name": "audited", "alias": "champion"}}, 200,
         "success"),
    ]  # fmt: skip
    for role, method, route, kw, status, _ in cases:
        r = await call(api, a, role, method, route, **kw)
        assert r.status_code == status, (route, r.text)
    uploads = [
        (f"{root}/other.txt", "data-scientist", 200, "success"),
        (f"{root}/other.txt", "data-scientist", 409, "failure"),
        (f"{root}/model/weights.bin", "data-scientist", 403, "denied"),
    ]
    for path, role, status, _ in uploads:
        assert (await put(api, a, role, path, b"x")).status_code == status, path
    after = await events()
    new = after[: len(after) - before]  # newest first
    assert len(new) == len(cases) + len(uploads), [(e["action"], e["outcome"], e["target"]) for e in new]
    expected = [(c[2], c[5]) for c in cases] + [("mlflow-artifacts", u[3]) for u in uploads]
    seen = [(e["target"], e["outcome"]) for e in reversed(new)]
    for (route, outcome), (target, got) in zip(expected, seen, strict=True):
        assert route in target and got == outcome, (route, outcome, target, got)


async def test_no_text_of_mlflow_reaches_the_client(api: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = two_tenants
    await ok(api, a, "data-scientist", "POST", "registered-models/create", json={"name": "dup"})
    fixed = {r.detail for r in (*refusals.BY_CODE.values(), *refusals.OVERRIDES.values(), refusals.FAILED)}
    refused = [
        await call(api, a, "data-scientist", "POST", "registered-models/create", json={"name": "dup"}),
        await call(api, a, "viewer", "GET", "registered-models/search", params={"filter": "name = 'x' OR 1"}),
        await call(api, a, "viewer", "GET", "registered-models/alias", params={"name": "dup", "alias": "nope"}),
        await call(api, a, "viewer", "GET", "runs/get", params={"run_id": "f" * 32}),
    ]
    assert [r.status_code for r in refused] == [409, 400, 404, 404]
    for r in refused:
        assert r.json()["message"] in fixed, r.text
        for fragment in ("dup", "nope", "f" * 32, "mt-", "Registered Model", "sqlalchemy", "psycopg"):
            assert fragment not in r.json()["message"], r.text
    # The same refusals on /v1: problem+json with the same fixed sentences.
    v1 = [
        await api.post("/v1/models", json={"name": "dup"}, headers=a.h("ml-engineer")),
        await api.get("/v1/models/dup/aliases/nope", headers=a.h("viewer")),
    ]
    assert [(r.status_code, r.json()["detail"]) for r in v1] == [
        (409, refusals.EXISTS.detail),
        (404, refusals.ALIAS_NOT_FOUND.detail),
    ]
