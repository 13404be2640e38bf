"""The registry's table (``operations``) run by ``RegistryService.run``, against a recording MLflow client and an
in-memory cache: each operation sends exactly the MLflow request the routes have always sent (endpoint, method,
query or body, the ``operation`` label), caches under the family and fields pinned here, and drops the families a
write changes.
The same behaviour on real MLflow and Redis: test_registry_servers.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson
import pytest
from maestro_api.core.errors import ProblemError
from maestro_api.registry import operations as ops
from maestro_api.registry.cache import FAMILIES, Family, Lookup, field_for
from maestro_api.registry.service import RegistryService

pytestmark = pytest.mark.anyio

TENANT = uuid.uuid4()
ROOT = "s3://artifacts"


class FakeClient:
    """Records every call; answers from ``answers`` by endpoint (``{}`` otherwise), or raises ``fail``."""

    def __init__(self, answers: dict[str, dict[str, Any]] | None = None, fail: ProblemError | None = None) -> None:
        self.answers = answers or {}
        self.fail = fail
        self.calls: list[tuple[str, str, str, Any, Any]] = []
        self.workspaces: list[str] = []

    async def call(self, method: str, endpoint: str, *, workspace: str, operation: str, params: Any, body: Any) -> Any:
        self.calls.append((method, endpoint, operation, params, body))
        if self.fail is not None:
            raise self.fail
        return self.answers.get(endpoint, {})

    async def ensure_workspace(self, *, workspace: str, artifact_root: str) -> None:
        self.workspaces.append(workspace)


class FakeCache:
    def __init__(self) -> None:
        self.entries: dict[tuple[Family, str], bytes] = {}
        self.invalidations: list[tuple[Family, ...]] = []

    async def get(self, tenant_id: uuid.UUID, family: Family, field: str, *, bypass: bool = False) -> Lookup:
        return Lookup(None if bypass else self.entries.get((family, field)), None)

    async def put(self, tenant_id: uuid.UUID, family: Family, field: str, value: bytes, *, seen: Lookup) -> bool:
        self.entries[(family, field)] = value
        return True

    async def invalidate(self, tenant_id: uuid.UUID, families: Iterable[Family]) -> None:
        dropped = tuple(families)
        self.entries = {k: v for k, v in self.entries.items() if k[0] not in dropped}
        self.invalidations.append(dropped)


def service(client: FakeClient) -> tuple[RegistryService, FakeCache]:
    cache = FakeCache()
    return RegistryService(client=client, cache=cache, artifact_root=ROOT), cache  # type: ignore[arg-type]


def _id(value: Any) -> str | None:
    """A case's id: its operation's name (pytest numbers repeats); the other values add nothing."""
    return value.name if isinstance(value, ops.Operation) else ""


def canonical(kind: str, query: dict[str, Any]) -> str:
    """A search's cache field, as the registry has always named it: the kind and the sorted query's JSON."""
    return field_for(kind, orjson.dumps(query, option=orjson.OPT_SORT_KEYS))


# (operation, fields, MLflow method, endpoint, label, query parameters, JSON body, cache field)
READS = [
    (ops.GET_EXPERIMENT, {"experiment_id": "7"}, "GET", "experiments/get", "get_experiment",
     {"experiment_id": "7"}, None, "experiment:7"),
    (ops.GET_RUN, {"run_id": "ab" * 16}, "GET", "runs/get", "get_run", {"run_id": "ab" * 16}, None,
     f"run:{'ab' * 16}"),
    (ops.GET_MODEL, {"name": "churn"}, "GET", "registered-models/get", "get_registered_model",
     {"name": "churn"}, None, "model:churn"),
    (ops.GET_VERSION, {"name": "churn", "version": "3"}, "GET", "model-versions/get", "get_model_version",
     {"name": "churn", "version": "3"}, None, field_for("version", "churn", "3")),
    (ops.GET_ALIAS, {"name": "churn", "alias": "champion"}, "GET", "registered-models/alias",
     "get_model_version_by_alias", {"name": "churn", "alias": "champion"}, None,
     field_for("alias", "churn", "champion")),
    (ops.SEARCH_EXPERIMENTS, {"filter": None, "max_results": 100, "page_token": None}, "POST",
     "experiments/search", "search_experiments", None, {"max_results": 100},
     canonical("experiments", {"max_results": 100})),
    (ops.SEARCH_EXPERIMENTS, {"filter": "name = 'x'", "max_results": 5, "page_token": "t"}, "POST",
     "experiments/search", "search_experiments", None, {"filter": "name = 'x'", "max_results": 5, "page_token": "t"},
     canonical("experiments", {"filter": "name = 'x'", "max_results": 5, "page_token": "t"})),
    (ops.SEARCH_RUNS, {"experiment_ids": ["1"], "filter": "", "max_results": 5, "order_by": [], "page_token": None},
     "POST", "runs/search", "search_runs", None, {"experiment_ids": ["1"], "max_results": 5},
     canonical("runs", {"experiment_ids": ["1"], "max_results": 5})),
    (ops.SEARCH_MODELS, {"filter": None, "max_results": 100, "page_token": None}, "GET", "registered-models/search",
     "search_registered_models", {"max_results": 100}, None, canonical("models", {"max_results": 100})),
    (ops.SEARCH_VERSIONS, {"filter": ops.version_filter("churn"), "max_results": 10, "page_token": None}, "GET",
     "model-versions/search", "search_model_versions", {"filter": "name = 'churn'", "max_results": 10}, None,
     canonical("versions", {"filter": "name = 'churn'", "max_results": 10})),
]  # fmt: skip


# The family each read is cached in, and the families each write drops.
FAMILY: dict[str, Family] = {
    "get_experiment": "experiments", "search_experiments": "experiments", "get_run": "runs", "search_runs": "runs",
    "get_registered_model": "models", "search_registered_models": "models", "get_model_version": "models",
    "search_model_versions": "models", "get_model_version_by_alias": "models",
}  # fmt: skip
DROPS: dict[str, tuple[Family, ...]] = {
    "create_experiment": ("experiments",), "update_experiment": ("experiments",),
    "set_experiment_tag": ("experiments",), "delete_experiment": ("experiments", "runs"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("op", "fields", "method", "endpoint", "label", "params", "body", "field"),
    READS,
    ids=lambda v: getattr(v, "name", ""),
)
async def test_reads_send_the_same_request_and_cache_under_the_same_field(
    op: ops.Operation,
    fields: dict[str, Any],
    method: str,
    endpoint: str,
    label: str,
    params: Any,
    body: Any,
    field: str,
) -> None:
    client = FakeClient()
    registry, cache = service(client)
    first = await registry.run(op, TENANT, **fields)
    assert client.calls == [(method, endpoint, label, params, body)]
    assert cache.entries == {(FAMILY[label], field): first}
    assert await registry.run(op, TENANT, **fields) == first and len(client.calls) == 1  # a hit: no call
    await registry.run(op, TENANT, fresh=True, **fields)  # Cache-Control: no-cache
    assert len(client.calls) == 2 and cache.entries == {(FAMILY[label], field): first}
    assert client.workspaces == [f"mt-{TENANT.hex}"]  # created once per process


WRITES = [
    (ops.CREATE_EXPERIMENT, {"name": "e", "tags": {"a": "b"}}, "POST", "experiments/create", "create_experiment",
     {"name": "e", "tags": [{"key": "a", "value": "b"}]}),
    (ops.RENAME_EXPERIMENT, {"experiment_id": "7", "new_name": "n"}, "POST", "experiments/update",
     "update_experiment", {"experiment_id": "7", "new_name": "n"}),
    (ops.SET_EXPERIMENT_TAG, {"experiment_id": "7", "key": "k", "value": ""}, "POST",
     "experiments/set-experiment-tag", "set_experiment_tag", {"experiment_id": "7", "key": "k", "value": ""}),
    (ops.DELETE_EXPERIMENT, {"experiment_id": "7"}, "POST", "experiments/delete", "delete_experiment",
     {"experiment_id": "7"}),
    (ops.CREATE_MODEL, {"name": "m", "description": None, "tags": {}}, "POST", "registered-models/create",
     "create_registered_model", {"name": "m", "tags": []}),
    (ops.CREATE_MODEL, {"name": "m", "description": "", "tags": {}}, "POST", "registered-models/create",
     "create_registered_model", {"name": "m", "description": "", "tags": []}),
    (ops.UPDATE_MODEL, {"name": "m", "description": "d"}, "PATCH", "registered-models/update",
     "update_registered_model", {"name": "m", "description": "d"}),
    (ops.DELETE_MODEL, {"name": "m"}, "DELETE", "registered-models/delete", "delete_registered_model", {"name": "m"}),
    (ops.SET_MODEL_TAG, {"name": "m", "key": "k", "value": "v"}, "POST", "registered-models/set-tag",
     "set_registered_model_tag", {"name": "m", "key": "k", "value": "v"}),
    (ops.DELETE_MODEL_TAG, {"name": "m", "key": "k"}, "DELETE", "registered-models/delete-tag",
     "delete_registered_model_tag", {"name": "m", "key": "k"}),
    (ops.CREATE_VERSION, {"name": "m", "source": f"{ROOT}/{TENANT}/x", "run_id": None, "description": None,
     "tags": {}}, "POST", "model-versions/create", "create_model_version",
     {"name": "m", "source": f"{ROOT}/{TENANT}/x", "tags": []}),
    (ops.UPDATE_VERSION, {"name": "m", "version": "2", "description": "d"}, "PATCH", "model-versions/update",
     "update_model_version", {"name": "m", "version": "2", "description": "d"}),
    (ops.DELETE_VERSION, {"name": "m", "version": "2"}, "DELETE", "model-versions/delete", "delete_model_version",
     {"name": "m", "version": "2"}),
    (ops.SET_VERSION_TAG, {"name": "m", "version": "2", "key": "k", "value": "v"}, "POST", "model-versions/set-tag",
     "set_model_version_tag", {"name": "m", "version": "2", "key": "k", "value": "v"}),
    (ops.DELETE_VERSION_TAG, {"name": "m", "version": "2", "key": "k"}, "DELETE", "model-versions/delete-tag",
     "delete_model_version_tag", {"name": "m", "version": "2", "key": "k"}),
    (ops.SET_ALIAS, {"name": "m", "alias": "champion", "version": "2"}, "POST", "registered-models/alias",
     "set_registered_model_alias", {"name": "m", "alias": "champion", "version": "2"}),
    (ops.DELETE_ALIAS, {"name": "m", "alias": "champion"}, "DELETE", "registered-models/alias",
     "delete_registered_model_alias", {"name": "m", "alias": "champion"}),
]  # fmt: skip
# What a write answers: MLflow's object, the object read back (its read's request), or nothing.
FOLLOW_UP = {
    "create_experiment": ("experiments/get", {"experiment_id": "41"}),
    "update_experiment": ("experiments/get", {"experiment_id": "7"}),
    "update_registered_model": ("registered-models/get", {"name": "m"}),
    "update_model_version": ("model-versions/get", {"name": "m", "version": "2"}),
    "set_registered_model_alias": ("model-versions/get", {"name": "m", "version": "2"}),
}
ANSWERED = {"create_registered_model": "registered_model", "create_model_version": "model_version"}


@pytest.mark.parametrize(("op", "fields", "method", "endpoint", "label", "body"), WRITES, ids=lambda v: _id(v))
async def test_writes_send_the_same_request_drop_the_cache_and_answer_as_before(
    op: ops.Operation, fields: dict[str, Any], method: str, endpoint: str, label: str, body: dict[str, Any]
) -> None:
    answers = {
        "experiments/create": {"experiment_id": "41"},
        "registered-models/create": {"registered_model": {"name": "m", "workspace": "secret"}},
        "model-versions/create": {"model_version": {"name": "m", "version": "1", "source": "s"}},
    }
    client = FakeClient(answers)
    registry, cache = service(client)
    families = DROPS.get(label, ("models",))
    for family in FAMILIES:
        cache.entries[(family, "x")] = b"stale"
    answer = await registry.run(op, TENANT, **fields)
    assert client.calls[0] == (method, endpoint, label, None, body)
    assert cache.invalidations[0] == families
    assert {f for f in FAMILIES if cache.entries.get((f, "x")) == b"stale"} == set(FAMILIES) - set(families)
    if label in FOLLOW_UP:
        read_endpoint, params = FOLLOW_UP[label]
        assert [c[1::2] for c in client.calls[1:]] == [(read_endpoint, params)]
        assert answer == orjson.dumps(op.then.public({}))  # type: ignore[union-attr]
    elif label in ANSWERED:
        assert len(client.calls) == 1
        assert answer == orjson.dumps(op.public(answers[endpoint])) and b"secret" not in answer
    else:
        assert len(client.calls) == 1 and answer == b""


async def test_a_failed_write_drops_the_cache_too() -> None:
    """MLflow may have applied a write it answered with an error (a timeout, a 5xx; a 409 after a retry)."""
    for status in (409, 422, 502, 503):
        registry, cache = service(FakeClient(fail=ProblemError(status, "x")))
        cache.entries[("models", "model:m")] = b"cached"
        with pytest.raises(ProblemError):
            await registry.run(ops.DELETE_MODEL, TENANT, name="m")
        assert cache.entries == {} and cache.invalidations == [("models",)], status


async def test_a_version_source_outside_the_tenants_root_is_refused_before_mlflow_is_called() -> None:
    client = FakeClient()
    registry, _ = service(client)
    with pytest.raises(ProblemError) as refused:
        await registry.run(ops.CREATE_VERSION, TENANT, name="m", source=f"{ROOT}/{uuid.uuid4()}/x", tags={})
    assert refused.value.status == 422 and client.calls == []


async def test_exists_is_false_only_for_not_found() -> None:
    assert await service(FakeClient())[0].exists(ops.GET_VERSION, TENANT, name="m", version="1")
    missing = service(FakeClient(fail=ProblemError(404, "Not found")))[0]
    assert not await missing.exists(ops.GET_VERSION, TENANT, name="m", version="1")
    with pytest.raises(ProblemError):
        await service(FakeClient(fail=ProblemError(503, "down")))[0].exists(
            ops.GET_VERSION, TENANT, name="m", version="1"
        )


def test_cache_fields_are_the_ones_already_in_redis() -> None:
    """Literal fields: a deploy of this code finds the entries the running version wrote (and its TTL bounds them)."""
    assert ops.GET_MODEL.cache_field(ops.GET_MODEL.request({"name": "churn"})) == "model:churn"
    version = ops.GET_VERSION.request({"name": "churn", "version": "3"})
    # A field with a separator is not printable: it is hashed (sha256 of "churn\x1f3").
    assert (
        ops.GET_VERSION.cache_field(version)
        == "version#9731aa7c1d5598e6700662010b3620b3a04f53b447ecd65a0423f60d2a17e667"
    )
    search = ops.SEARCH_MODELS.request({"max_results": 100})
    assert ops.SEARCH_MODELS.cache_field(search) == "models:b'{\"max_results\":100}'"


def test_a_request_takes_only_the_operations_fields_and_a_read_needs_all() -> None:
    with pytest.raises(TypeError, match="unknown fields"):
        ops.GET_MODEL.request({"name": "m", "filter": "x"})
    with pytest.raises(TypeError, match="needs every one"):
        ops.GET_VERSION.request({"name": "m"})


def test_a_write_whose_answer_lacks_the_follow_up_field_is_a_502() -> None:
    with pytest.raises(ProblemError) as refused:
        ops.CREATE_EXPERIMENT.follow_up({"name": "e"}, {})
    assert refused.value.status == 502


def test_version_filter_refuses_quotes() -> None:
    assert ops.version_filter("churn.v2") == "name = 'churn.v2'"
    for bad in ("a'b", 'a"b', "a\\b"):
        with pytest.raises(ProblemError) as refused:
            ops.version_filter(bad)
        assert refused.value.status == 422


def test_every_write_drops_a_family_and_every_read_lives_in_one_some_write_drops() -> None:
    table = [v for v in vars(ops).values() if isinstance(v, ops.Operation)]
    writes = [op for op in table if op.kind == "write"]
    assert all(op.invalidates and set(op.invalidates) <= set(FAMILIES) for op in writes)
    dropped = {family for op in writes for family in op.invalidates}
    assert {op.family for op in table if op.kind != "write"} <= dropped


def test_every_operation_is_in_the_tests_and_named_once() -> None:
    table = [v for v in vars(ops).values() if isinstance(v, ops.Operation)]
    assert {op.name for op, *_ in READS} | {op.name for op, *_ in WRITES} == {op.name for op in table}
    assert len({op.name for op in table}) == len(table)
