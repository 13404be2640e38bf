"""The UI's GraphQL checks without servers: what is served, the permissions a query needs, MLflow's errors scrubbed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.ui.graphql import NOT_FOUND, REFUSED_ERROR, check_query

# The UI's own queries (MLflow 3.17's bundle), trimmed to their shape.
GET_RUN = """query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run { info { runName runUuid } experiment { experimentId name } modelVersions { name version } }
  }
}"""
GET_EXPERIMENT = """query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) {
  mlflowGetExperiment(input: $input) { apiError { code message } experiment { experimentId name } }
}"""
SEARCH_RUNS = """query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) { apiError { code message } runs { info { runUuid } } }
}"""
METRICS = """query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!) {
  mlflowGetMetricHistoryBulkInterval(input: $data) { __typename metrics { step value } apiError { code message } }
}"""


def q(query: str) -> bytes:
    return orjson.dumps({"query": query})


def body(query: str, **extra: Any) -> bytes:
    return orjson.dumps({"query": query, "variables": {"data": {"runId": "0" * 32}}, **extra})


@pytest.mark.parametrize(
    ("query", "permissions"),
    [
        (GET_RUN, {"runs:read", "experiments:read", "versions:read"}),
        (GET_EXPERIMENT, {"experiments:read"}),
        (SEARCH_RUNS, {"runs:read"}),
        (METRICS, {"runs:read"}),
        # A join reached through a fragment still counts.
        (
            'query Q { mlflowGetRun(input: {runId: "x"}) { run { ...R } } } fragment R on MlflowRunExtension '
            "{ experiment { name } }",
            {"runs:read", "experiments:read"},
        ),
    ],
)
def test_the_uis_queries_pass_with_the_permissions_of_every_field(query: str, permissions: set[str]) -> None:
    checked = check_query(body(query, operationName="Q"))
    assert checked.permissions == permissions
    forwarded = orjson.loads(checked.body)
    assert set(forwarded) == {"query", "variables", "operationName"}
    assert forwarded["variables"] == {"data": {"runId": "0" * 32}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "must be a GraphQL request"),
        (orjson.dumps({"query": GET_RUN, "token": "x"}), "must be a GraphQL request"),
        (q(""), "non-empty string"),
        (q("{" * 20_000), "non-empty string of at most"),
        (orjson.dumps({"query": GET_RUN, "variables": []}), "variables must be an object"),
        (q("query {"), "not valid GraphQL"),
        (q("mutation M { mlflowSearchRuns(input: {}) { runs { info { runUuid } } } }"), "Only queries"),
        (q("subscription S { x }"), "Only queries"),
        (q("query { __schema { types { name } } }"), "'__schema' is not served"),
        (q('query { mlflowGetRun(input: {}) { run { __type(name: "X") { name } } } }'), "Introspection"),
        (q("query { mlflowListArtifacts(input: {}) { files { path } } }"), "'mlflowListArtifacts' is not served"),
        (q('query { test(inputString: "x") { output } }'), "'test' is not served"),
        (
            q("query { ...F } fragment F on Query { mlflowGetRun(input: {}) { run { info { runUuid } } } }"),
            "Fragments are not allowed at the root",
        ),
        (q("query A { __typename } query B { __typename }"), "exactly one operation"),
        (q("query { __typename }"), "asks for nothing"),
        (q("query { mlflowGetRun(input: {}) { run { ...Missing } } }"), "Unknown fragment"),
    ],
)
def test_anything_else_is_refused_with_mlflows_400(raw: bytes, message: str) -> None:
    with pytest.raises(MlflowApiError) as refused:
        check_query(raw)
    assert refused.value.status == 400 and refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert message in (refused.value.detail or "")


def test_mlflows_not_found_becomes_the_schemas_api_error_in_the_querys_own_shape() -> None:
    checked = check_query(body(GET_RUN))
    answer = {"data": {"mlflowGetRun": None}, "errors": ["Run with id=abc not found"]}
    scrubbed = orjson.loads(checked.scrub(orjson.dumps(answer)))
    assert scrubbed == {
        "data": {
            "mlflowGetRun": {
                "apiError": {"helpUrl": None, "code": "RESOURCE_DOES_NOT_EXIST", "message": NOT_FOUND["mlflowGetRun"]},
                "run": None,
            }
        },
        "errors": None,
    }
    experiment = check_query(q(GET_EXPERIMENT))
    answer = {"data": {"mlflowGetExperiment": None}, "errors": ["No Experiment with id=7 exists"]}
    scrubbed = orjson.loads(experiment.scrub(orjson.dumps(answer)))
    assert scrubbed["data"]["mlflowGetExperiment"]["apiError"]["message"] == "Experiment not found."


@pytest.mark.parametrize(
    "answer",
    [
        {"data": {"mlflowGetRun": None}, "errors": ["(psycopg2.OperationalError) could not connect to 10.0.0.5"]},
        {"data": {"mlflowGetRun": {"apiError": {"code": "X", "message": "secret path /var/lib/x"}, "run": None}}},
        {"data": None, "errors": ["Run with id=abc not found", "and another"]},
        "not a json object",
    ],
)
def test_no_text_of_mlflow_reaches_the_browser(answer: Any) -> None:
    checked = check_query(body(GET_RUN))
    raw = orjson.dumps(answer) if not isinstance(answer, str) else answer.encode()
    text = checked.scrub(raw).decode()
    assert "psycopg2" not in text and "/var/lib" not in text and "abc" not in text and "another" not in text
    assert REFUSED_ERROR in text


def test_the_tenants_data_passes_unchanged() -> None:
    checked = check_query(body(GET_RUN))
    data = {"mlflowGetRun": {"apiError": None, "run": {"info": {"runName": "first", "runUuid": "a" * 32}}}}
    assert orjson.loads(checked.scrub(orjson.dumps({"data": data, "errors": None}))) == {"data": data, "errors": None}
