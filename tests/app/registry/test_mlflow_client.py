"""The MLflow client maps every MLflow answer and transport failure to a problem (never a 500 for bad input)."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from maestro_api.core.errors import ProblemError
from maestro_api.registry import refusals
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER, MlflowClient

Handler = Callable[[httpx.Request], httpx.Response]


def run(handler: Handler, *, workspace: str = "mt-abc", endpoint: str = "registered-models/get") -> dict[str, object]:
    async def go() -> dict[str, object]:
        client = MlflowClient(
            base_url="http://mlflow.invalid", timeout_seconds=1.0, transport=httpx.MockTransport(handler)
        )
        try:
            return await client.call("GET", endpoint, workspace=workspace, operation="t", params={})
        finally:
            await client.aclose()

    return asyncio.run(go())


def error(status: int, code: str, message: str = "msg") -> Handler:
    return lambda _req: httpx.Response(status, json={"error_code": code, "message": message})


def problem(handler: Handler, endpoint: str = "registered-models/get") -> ProblemError:
    with pytest.raises(ProblemError) as info:
        run(handler, endpoint=endpoint)
    return info.value


def test_success_returns_the_json_and_sends_the_workspace_header() -> None:
    seen: list[httpx.Request] = []

    def ok(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"registered_model": {"name": "m"}})

    assert run(ok) == {"registered_model": {"name": "m"}}
    assert seen[0].headers[WORKSPACE_HEADER] == "mt-abc"
    assert seen[0].url.path == "/api/2.0/mlflow/registered-models/get"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "RESOURCE_DOES_NOT_EXIST", 404),
        (400, "INVALID_PARAMETER_VALUE", 422),
        (400, "BAD_REQUEST", 422),
        (400, "RESOURCE_ALREADY_EXISTS", 409),
        (500, "INVALID_STATE", 409),  # MLflow answers INVALID_STATE with a 500: the code decides
        (400, "ENDPOINT_NOT_FOUND", 422),
        (401, "UNAUTHENTICATED", 502),  # MLflow refused the API's own token: not the caller's fault
        (403, "PERMISSION_DENIED", 502),
        (401, "", 502),
        (404, "", 404),
        (500, "INTERNAL_ERROR", 502),
        (503, "TEMPORARILY_UNAVAILABLE", 502),
    ],
)
def test_mlflow_errors_map_to_problems(status: int, code: str, expected: int) -> None:
    assert problem(error(status, code)).status == expected


SECRET_TEXT = 'psycopg2.errors.UniqueViolation: duplicate key "registered_models_pk" in workspace mt-abc at db1:5432'


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "RESOURCE_ALREADY_EXISTS"), (400, "INVALID_PARAMETER_VALUE"), (500, "INVALID_STATE"), (401, ""), (500, "")],
)
def test_no_text_of_mlflow_reaches_the_client(status: int, code: str) -> None:
    exc = problem(error(status, code, SECRET_TEXT))
    assert exc.detail in {r.detail for r in refusals.BY_CODE.values()} | {
        refusals.FAILED.detail,
        refusals.CREDENTIAL.detail,
    }
    for fragment in ("psycopg", "duplicate", "mt-abc", "db1", "registered_models_pk"):
        assert fragment not in f"{exc.title} {exc.detail}"


def test_a_refused_credential_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    exc = problem(error(401, "UNAUTHENTICATED", "Bearer s3cr3t-token refused"))
    assert (exc.status, exc.detail) == (502, "The model registry refused the API's credential.")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "refused the API's credential (HTTP 401 on GET registered-models/get)" in logged
    assert "s3cr3t" not in logged


def test_a_missing_alias_is_a_404_not_a_bad_value() -> None:
    """MLflow answers a missing alias with INVALID_PARAMETER_VALUE; only for that endpoint is it a 404."""
    missing = error(400, "INVALID_PARAMETER_VALUE", "Registered model alias champion not found.")
    assert (problem(missing, "registered-models/alias").status, problem(missing).status) == (404, 422)


def test_an_unreadable_success_body_is_a_502() -> None:
    assert problem(lambda _r: httpx.Response(200, content=b"<html>")).status == 502


def test_timeouts_and_connection_errors_are_503_with_retry_after() -> None:
    def timeout(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=req)

    def refused(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    for handler in (timeout, refused):
        exc = problem(handler)
        assert exc.status == 503
        assert exc.headers["Retry-After"]


def test_a_dead_port_answers_503_quickly() -> None:
    async def go() -> None:
        client = MlflowClient(base_url="http://127.0.0.1:9", timeout_seconds=0.5)
        try:
            await client.call("GET", "registered-models/get", workspace="mt-x", operation="t")
        finally:
            await client.aclose()

    with pytest.raises(ProblemError) as info:
        asyncio.run(go())
    assert info.value.status == 503
