"""What a signed-in browser may do, on real servers (PostgreSQL, Redis, an artifact-serving MLflow, the lab's
provider): its tenant's data and nothing else, in REST, GraphQL and artifact downloads; a viewer's edits refused in
MLflow's error shape; no state change from another site; the page's headers and the static files' caching."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from maestro_api.ui.routes import IMMUTABLE, PAGE_CSP, REVALIDATE
from maestro_api.ui.session import SESSION_COOKIE

from tests.app.registry.conftest import Tenant
from tests.app.ui.conftest import Idp, authorize, browser_of, finish_sign_in, same_origin, sign_in, start_sign_in

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

API = "/mlflow/api/2.0/mlflow"
AJAX = "/mlflow/ajax-api/2.0/mlflow"
ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
GET_RUN = """query GetRun($data: MlflowGetRunInput!) {
  mlflowGetRun(input: $data) { apiError { code message } run { info { runName runUuid } data { metrics { key } } } }
}"""
SEARCH_RUNS = """query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) { apiError { code message } runs { info { runUuid } } }
}"""


async def api_call(ui: httpx.AsyncClient, tenant: Tenant, method: str, call: str, **kw: Any) -> dict[str, Any]:
    """A call of the stock client (bearer key of the tenant's data scientist) on the same app."""
    r = await ui.request(method, f"{API}/{call}", headers=tenant.h("data-scientist"), **kw)
    assert r.status_code == 200, (call, r.text)
    body: dict[str, Any] = r.json()
    return body


async def a_run(ui: httpx.AsyncClient, tenant: Tenant) -> tuple[str, str]:
    """An experiment with one run, a metric and an artifact ``reports/report.txt``; returns (experiment id, run id)."""
    experiment = (await api_call(ui, tenant, "POST", "experiments/create", json={"name": uuid.uuid4().hex}))[
        "experiment_id"
    ]
    run = (await api_call(ui, tenant, "POST", "runs/create", json={"experiment_id": experiment}))["run"]["info"]
    metric = {"run_id": run["run_id"], "key": "auc", "value": 0.75, "timestamp": 1, "step": 0}
    await api_call(ui, tenant, "POST", "runs/log-metric", json=metric)
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    headers = {**tenant.h("data-scientist"), "Content-Type": "application/octet-stream"}
    r = await ui.put(f"{ARTIFACTS}/{root}/reports/report.txt", content=b"hello report\n", headers=headers)
    assert r.status_code == 200, r.text
    return experiment, run["run_id"]


def graphql(query: str, run_id: str = "", experiment_id: str = "") -> dict[str, Any]:
    data = {"runId": run_id} if run_id else {"experimentIds": [experiment_id]}
    return {"query": query, "variables": {"data": data}}


async def test_a_browser_sees_its_tenants_data_and_another_tenants_ids_are_not_found(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = two_tenants
    experiment, run_id = await a_run(ui, a)
    reads = {
        "experiment": f"{AJAX}/experiments/get?experiment_id={experiment}",
        "run": f"{AJAX}/runs/get?run_id={run_id}",
        "metric history": f"{AJAX}/metrics/get-history?run_id={run_id}&metric_key=auc",
        "artifact listing": f"{AJAX}/artifacts/list?run_id={run_id}&path=reports",
        "artifact": f"/mlflow/get-artifact?path=reports/report.txt&run_uuid={run_id}",
    }
    await sign_in(ui, idp, a.name, "viewer")
    for what, url in reads.items():
        r = await ui.get(url)
        assert r.status_code == 200, (what, r.text)
    assert (await ui.get(reads["artifact"])).content == b"hello report\n"
    run = (await ui.post("/mlflow/graphql", json=graphql(GET_RUN, run_id), headers=same_origin())).json()
    assert run["data"]["mlflowGetRun"]["run"]["info"]["runUuid"] == run_id and run["errors"] is None
    runs = await ui.post("/mlflow/graphql", json=graphql(SEARCH_RUNS, experiment_id=experiment), headers=same_origin())
    assert [r["info"]["runUuid"] for r in runs.json()["data"]["mlflowSearchRuns"]["runs"]] == [run_id]

    # Tenant B's data scientist pastes A's ids: not found, in MLflow's shape, and none of A's data.
    async with browser_of(ui) as other:
        await sign_in(other, idp, b.name, "data-scientist")
        for what, url in reads.items():
            r = await other.get(url)
            assert r.status_code == 404, (what, r.status_code, r.text)
            assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", (what, r.text)
            assert run_id not in r.text and experiment not in r.text.replace(url, "")
        search = await other.get(f"{AJAX}/experiments/search?max_results=100")
        assert experiment not in {e["experiment_id"] for e in search.json().get("experiments", [])}
        r = await other.post("/mlflow/graphql", json=graphql(GET_RUN, run_id), headers=same_origin())
        answer = r.json()["data"]["mlflowGetRun"]
        assert answer["run"] is None and answer["apiError"]["code"] == "RESOURCE_DOES_NOT_EXIST"
        r = await other.post(
            "/mlflow/graphql", json=graphql(SEARCH_RUNS, experiment_id=experiment), headers=same_origin()
        )
        assert run_id not in r.text and "auc" not in r.text


async def test_a_viewer_reads_but_its_edits_answer_403_in_mlflows_error_shape(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    experiment, run_id = await a_run(ui, a)
    model = f"m-{uuid.uuid4().hex[:8]}"
    await api_call(ui, a, "POST", "registered-models/create", json={"name": model})
    edits = [
        ("POST", "runs/update", {"run_id": run_id, "run_name": "renamed"}),
        ("POST", "runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"}),
        ("POST", "runs/delete", {"run_id": run_id}),
        ("POST", "experiments/update", {"experiment_id": experiment, "new_name": "renamed"}),
        ("POST", "experiments/delete", {"experiment_id": experiment}),
        ("POST", "registered-models/rename", {"name": model, "new_name": "renamed"}),
        ("DELETE", "registered-models/delete", {"name": model}),
    ]
    await sign_in(ui, idp, a.name, "viewer")
    for method, call, body in edits:
        r = await ui.request(method, f"{AJAX}/{call}", json=body, headers=same_origin())
        assert r.status_code == 403, (call, r.text)
        assert r.json()["error_code"] == "PERMISSION_DENIED" and r.json()["message"], (call, r.text)
    assert (await ui.get(f"{AJAX}/runs/get?run_id={run_id}")).json()["run"]["info"]["run_name"] != "renamed"
    assert (await ui.get(f"{AJAX}/registered-models/get?name={model}")).status_code == 200
    # The same rename by the tenant's data scientist goes through.
    async with browser_of(ui) as scientist:
        await sign_in(scientist, idp, a.name, "data-scientist")
        r = await scientist.post(f"{AJAX}/runs/update", json=edits[0][2], headers=same_origin())
        assert r.status_code == 200, r.text
    assert (await ui.get(f"{AJAX}/runs/get?run_id={run_id}")).json()["run"]["info"]["run_name"] == "renamed"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.test", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.test"},
        {"Origin": "https://ui.test", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {},
    ],
    ids=["cross-site", "other-origin", "forged-origin-cross-site", "opaque-origin", "no-origin"],
)
async def test_a_state_change_from_another_site_is_refused_even_with_a_valid_cookie(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant], headers: dict[str, str]
) -> None:
    a, _ = two_tenants
    _, run_id = await a_run(ui, a)
    await sign_in(ui, idp, a.name, "data-scientist")
    rename = {"run_id": run_id, "run_name": "csrf"}
    # A classic cross-site form post, and the JSON call the UI itself would make.
    form = await ui.post(f"{AJAX}/runs/update", data=rename, headers=headers)
    assert form.status_code == 403 and "Cross-site" in form.json()["message"], form.text
    r = await ui.post(f"{AJAX}/runs/update", json=rename, headers=headers)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    assert (await ui.post("/mlflow/graphql", json=graphql(GET_RUN, run_id), headers=headers)).status_code == 403
    # Signing out from another site does not end the session either.
    assert (await ui.post("/mlflow/oauth/logout", headers=headers)).status_code == 403
    assert (await ui.get(f"{AJAX}/runs/get?run_id={run_id}")).json()["run"]["info"]["run_name"] != "csrf"
    # From the UI's own page it goes through.
    assert (await ui.post(f"{AJAX}/runs/update", json=rename, headers=same_origin())).status_code == 200


async def test_the_page_has_its_csp_and_the_apis_headers_and_hashed_static_files_are_immutable(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    # Signed out, static files are not served either.
    assert (await ui.get("/mlflow/static-files/favicon.ico")).status_code == 401
    await sign_in(ui, idp, a.name, "viewer")
    page = await ui.get("/mlflow/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert (
        page.headers["x-content-type-options"] == "nosniff" and "max-age=" in page.headers["strict-transport-security"]
    )
    assert "<script>" not in page.text  # the CSP allows no inline script: the page must have none
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', page.text)
    assert scripts, page.text[:500]
    for src in scripts:
        asset = await ui.get("/mlflow/" + src.removeprefix("./").lstrip("/").removeprefix("mlflow/"))
        assert asset.status_code == 200 and asset.headers["cache-control"] == IMMUTABLE, src
        assert "javascript" in asset.headers["content-type"]
    favicon = await ui.get("/mlflow/static-files/favicon.ico")
    assert favicon.status_code == 200 and favicon.headers["cache-control"] == REVALIDATE
    # A path that escapes the static directory is not a static file.
    assert (await ui.get("/mlflow/static-files/..%2f..%2fetc/passwd")).status_code == 404


async def test_the_tenants_directory_holds_for_ui_sessions_on_every_request(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    """The API's OIDC bearer tokens and the UI's sessions both go through ``Authenticator.principal_from_claims``,
    which checks the subject's directory entry: a session of a user the tenant's admin disables is refused from its
    next request and ended, and the user cannot sign in again; enabled and demoted, a new session's role is the
    entry's."""
    a, _ = two_tenants
    sub = await sign_in(ui, idp, a.name, "data-scientist")
    entry = {"email": f"{sub}@example.test", "role": "data-scientist", "subject": sub}
    r = await ui.post("/v1/users", json=entry, headers=a.h())
    assert r.status_code == 201, r.text
    user = f"/v1/users/{r.json()['id']}"
    search = f"{AJAX}/experiments/search?max_results=5"

    async def create_experiment() -> int:
        body = {"name": uuid.uuid4().hex}
        return (await ui.post(f"{AJAX}/experiments/create", json=body, headers=same_origin())).status_code

    assert (await ui.get(search)).status_code == 200
    assert await create_experiment() == 200

    assert (await ui.patch(user, json={"disabled": True}, headers=a.h())).status_code == 200
    r = await ui.get(search)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    assert (await ui.get("/mlflow/")).headers["location"] == "/mlflow/oauth/login"
    # Nor can the user sign in again; another user of the tenant can.
    async with browser_of(ui) as again:
        r = await finish_sign_in(again, authorize(await start_sign_in(again), sub))
        assert r.status_code == 401 and "disabled" in r.text and SESSION_COOKIE not in again.cookies
    async with browser_of(ui) as colleague:
        await sign_in(colleague, idp, a.name, "viewer")
        assert (await colleague.get(search)).status_code == 200

    # Enabled again as a viewer: the refused session stays ended; a new sign-in reads, and its claim
    # (data-scientist) no longer writes.
    assert (await ui.patch(user, json={"disabled": False, "role": "viewer"}, headers=a.h())).status_code == 200
    r = await ui.get(search)
    assert r.status_code == 401 and "session has ended" in r.text
    r = await finish_sign_in(ui, authorize(await start_sign_in(ui), sub))
    assert r.status_code == 303, r.text
    assert (await ui.get(search)).status_code == 200
    assert await create_experiment() == 403
