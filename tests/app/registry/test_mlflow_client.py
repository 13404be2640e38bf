"""The MLflow client maps every MLflow answer and transport failure to a problem (never a 500 for bad input)."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from maestro_api.core.errors import ProblemError
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER, MlflowClient

Handler = Callable[[httpx.Request], httpx.Response]


def run(handler: Handler, *, workspace: str = "mt-abc") -> dict[str, object]:
    async def go() -> dict[str, object]:
        client = MlflowClient(
            base_url="http://mlflow.invalid", timeout_seconds=1.0, transport=httpx.MockTransport(handler)
        )
        try:
            return await client.call("GET", "registered-models/get", workspace=workspace, operation="t", params={})
        finally:
            await client.aclose()

    return asyncio.run(go())


def error(status: int, code: str, message: str = "msg") -> Handler:
    return lambda _req: httpx.Response(status, json={"error_code": code, "message": message})


def problem(handler: Handler) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        run(handler)
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
        (400, "INVALID_STATE", 409),
        (403, "PERMISSION_DENIED", 422),
        (500, "INTERNAL_ERROR", 502),
        (503, "TEMPORARILY_UNAVAILABLE", 502),
    ],
)
def test_mlflow_errors_map_to_problems(status: int, code: str, expected: int) -> None:
    assert problem(error(status, code)).status == expected


def test_not_found_detail_never_repeats_mlflow_text() -> None:
    exc = problem(error(404, "RESOURCE_DOES_NOT_EXIST", "Workspace 'mt-abc' not found"))
    assert "mt-abc" not in (exc.detail or "")


def test_invalid_parameter_detail_is_kept_but_the_workspace_is_scrubbed() -> None:
    exc = problem(error(400, "INVALID_PARAMETER_VALUE", "bad filter in workspace mt-abc"))
    assert exc.detail == "bad filter in workspace <tenant>"


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
