"""Unit tests of the proxy's guards, error shape and allow list (no servers)."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest
from maestro_api.core.errors import ProblemError
from maestro_api.core.rbac import MATRIX, PERMISSIONS
from maestro_api.metrics import MLFLOW_PROXY_UPSTREAM_ERRORS
from maestro_api.mlflow_proxy import guards
from maestro_api.mlflow_proxy.errors import MlflowApiError, mlflow_error_response
from maestro_api.mlflow_proxy.forward import MlflowForwarder
from maestro_api.mlflow_proxy.table import ROUTES

TENANT = uuid.UUID("11111111-2222-3333-4444-555555555555")
ROOT = "s3://maestro-artifacts/tenants"


@pytest.mark.parametrize("path", ["experiments/1/r/artifacts/model/MLmodel", "a", "a/b.c/d-e_f"])
def test_safe_artifact_paths_pass(path: str) -> None:
    assert guards.check_artifact_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "a/../../b",
        "a/./b",
        "/etc/passwd",
        "a//b",
        "s3://other-bucket/x",
        "file:/etc/passwd",
        "a/%2e%2e/b",
        "a%2Fb",
        "a\\..\\b",
        "a/\x00b",
        "workspaces/mt-0000/x",
        "",
        "a/" * 600,
    ],
)
def test_escaping_artifact_paths_are_refused(path: str) -> None:
    with pytest.raises(MlflowApiError) as exc:
        guards.check_artifact_path(path)
    assert (exc.value.status, exc.value.error_code) == (400, "INVALID_PARAMETER_VALUE")


def test_empty_path_is_the_root_only_where_allowed() -> None:
    assert guards.check_artifact_path("", allow_empty=True) == ""


def test_experiment_location_is_chosen_by_maestro() -> None:
    assert orjson.loads(guards.experiment_create(b'{"name": "e"}')) == {"name": "e"}
    with pytest.raises(MlflowApiError):
        guards.experiment_create(b'{"name": "e", "artifact_location": "s3://other-tenant/x"}')
    with pytest.raises(MlflowApiError):
        guards.experiment_create(b"[1]")
    with pytest.raises(MlflowApiError):
        guards.experiment_create(b"{not json")


@pytest.mark.parametrize(
    "source",
    [
        "mlflow-artifacts:/experiments/abc/models/m-1/artifacts",
        "models:/m-0123abcd",
        "runs:/0123abcd/model",
        f"{ROOT}/{TENANT}/models/1",
    ],
)
def test_version_sources_inside_the_tenant_pass(source: str) -> None:
    assert guards.check_version_source(source, artifact_root=ROOT, tenant_id=TENANT) == source


@pytest.mark.parametrize(
    "source",
    [
        "mlflow-artifacts://evil.example/x",
        "mlflow-artifacts:/workspaces/mt-other/x",
        "mlflow-artifacts:/../x",
        "runs:/../../x",
        f"{ROOT}/{uuid.uuid4()}/models/1",
        "s3://another-bucket/x",
        "http://169.254.169.254/latest",
        "file:///etc",
    ],
)
def test_version_sources_outside_the_tenant_are_refused(source: str) -> None:
    with pytest.raises(MlflowApiError):
        guards.check_version_source(source, artifact_root=ROOT, tenant_id=TENANT)


def test_errors_render_in_mlflow_shape() -> None:
    r = mlflow_error_response(ProblemError(403, "Forbidden", "Role 'viewer' lacks the permission 'runs:update'."))
    assert r.status_code == 403
    assert orjson.loads(r.body) == {
        "error_code": "PERMISSION_DENIED",
        "message": "Role 'viewer' lacks the permission 'runs:update'.",
    }
    r = mlflow_error_response(ProblemError(401, "Unauthorized", "bad key", headers={"WWW-Authenticate": "Bearer"}))
    assert (r.status_code, orjson.loads(r.body)["error_code"], r.headers["www-authenticate"]) == (
        401,
        "UNAUTHENTICATED",
        "Bearer",
    )
    assert orjson.loads(mlflow_error_response(ProblemError(422, "x", "y")).body)["error_code"] == (
        "INVALID_PARAMETER_VALUE"
    )


def test_allow_list_is_closed_and_viewer_only_reads() -> None:
    paths = {r.path for r in ROUTES}
    assert not any("workspaces" in p or "traces" in p or "gateway" in p or "/mpu/" in p for p in paths)
    assert len({(r.path, r.method) for r in ROUTES}) == len(ROUTES)
    for route in ROUTES:
        assert route.permission in PERMISSIONS
        assert (route.permission in MATRIX["viewer"]) == (not route.mutating), route


@pytest.mark.anyio
async def test_upstream_down_is_503_in_mlflow_shape_and_counted() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        raise httpx.ConnectError("refused", request=request)

    forwarder = MlflowForwarder(
        base_url="http://mlflow.invalid", timeout_seconds=1, transport=httpx.MockTransport(refuse)
    )
    counter = MLFLOW_PROXY_UPSTREAM_ERRORS.labels(route="GET runs/get")
    before = counter._value.get()
    with pytest.raises(MlflowApiError) as exc:
        await forwarder.json_call(
            method="GET",
            path="/api/2.0/mlflow/runs/get",
            query="run_id=1",
            body=None,
            workspace="w",
            route="GET runs/get",
        )
    assert (exc.value.status, exc.value.error_code) == (503, "TEMPORARILY_UNAVAILABLE")
    assert counter._value.get() == before + 1
    await forwarder.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code", "route", "expected"),
    [
        (404, "RESOURCE_DOES_NOT_EXIST", "GET runs/get", (404, "RESOURCE_DOES_NOT_EXIST")),
        (400, "RESOURCE_ALREADY_EXISTS", "POST registered-models/create", (409, "RESOURCE_ALREADY_EXISTS")),
        (400, "INVALID_PARAMETER_VALUE", "POST runs/log-batch", (400, "INVALID_PARAMETER_VALUE")),
        (400, "INVALID_PARAMETER_VALUE", "GET registered-models/alias", (404, "RESOURCE_DOES_NOT_EXIST")),
        (401, "UNAUTHENTICATED", "GET runs/get", (502, "INTERNAL_ERROR")),
        (500, "INTERNAL_ERROR", "GET runs/get", (502, "INTERNAL_ERROR")),
    ],
)
async def test_upstream_error_keeps_mlflow_code_but_never_its_text(
    status: int, code: str, route: str, expected: tuple[int, str]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-mlflow-workspace"] == "mt-abc"
        message = "(psycopg2.errors.UniqueViolation) duplicate key value; workspace mt-abc on db1"
        return httpx.Response(status, json={"error_code": code, "message": message})

    forwarder = MlflowForwarder(base_url="http://m", timeout_seconds=1, transport=httpx.MockTransport(refuse))
    with pytest.raises(MlflowApiError) as exc:
        await forwarder.json_call(
            method="GET", path="/api/2.0/mlflow/runs/get", query="", body=None, workspace="mt-abc", route=route
        )
    assert (exc.value.status, exc.value.error_code) == expected
    for fragment in ("mt-abc", "psycopg", "duplicate", "db1"):
        assert fragment not in (exc.value.detail or "")
    await forwarder.aclose()


def test_artifact_content_length_is_checked_before_the_body_is_read() -> None:
    guards.check_content_length(None, limit=10)  # chunked: counted while streaming
    guards.check_content_length("10", limit=10)
    with pytest.raises(MlflowApiError) as over:
        guards.check_content_length("11", limit=10)
    assert (over.value.status, over.value.error_code) == (413, "RESOURCE_EXHAUSTED")
    with pytest.raises(MlflowApiError) as bad:
        guards.check_content_length("-1", limit=10)
    assert (bad.value.status, bad.value.error_code) == (400, "INVALID_PARAMETER_VALUE")
