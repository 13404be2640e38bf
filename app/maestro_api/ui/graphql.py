"""GraphQL for the UI: the queries it sends, checked field by field before MLflow sees them.

MLflow's ``/graphql`` resolvers call the same handler functions as its REST routes (``get_run_impl``,
``search_runs_impl``, ...), inside the request's workspace: forwarded with the tenant's ``X-MLFLOW-WORKSPACE``, a
query sees exactly what the REST calls see, and another tenant's id is "not found". What REST gets from the route
table, GraphQL gets from this one:

- the document is parsed (graphql-core, MLflow's own parser) and must hold one ``query`` operation (MLflow's
  ``mutation`` type only repeats two searches the UI does not send that way; subscriptions do not exist) whose root
  fields are ``ROOT_FIELDS`` only: the four the UI asks for. Fragments at the root, introspection
  (``__schema``, ``__type``) and any other field are refused with 400.
- Each root field, and each field that reaches another kind of object (``JOINS``: a run's ``experiment``, its
  ``modelVersions``), names a permission; the caller needs all of them (403 otherwise, audited like any denial).
- The document forwarded is the one checked, printed from its parsed form, with the variables as sent.
- MLflow's error texts never reach the browser. A root field MLflow could not find (another tenant's run or
  experiment, in the only words MLflow 3.17 has for it: "... not found", "... does not exist", "No Experiment with
  id=... exists") is answered as MLflow's schema allows, ``apiError {code: RESOURCE_DOES_NOT_EXIST}`` with a fixed
  "not found" sentence, which the UI shows as its not-found page; every other error is one fixed sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    print_ast,
)

from maestro_api.mlflow_proxy.errors import MlflowApiError

MAX_QUERY_BYTES = 16_384
ROOT_FIELDS: dict[str, str] = {
    "mlflowGetExperiment": "experiments:read",
    "mlflowGetRun": "runs:read",
    "mlflowSearchRuns": "runs:read",
    "mlflowGetMetricHistoryBulkInterval": "runs:read",
}
"""The root fields the UI queries, each with the permission it needs."""
JOINS: dict[str, str] = {"experiment": "experiments:read", "modelVersions": "versions:read"}
"""Fields below the root that read another kind of object (MLflow's ``MlflowRunExtension``)."""
NOT_FOUND: dict[str, str] = {
    "mlflowGetExperiment": "Experiment not found.",
    "mlflowGetRun": "Run not found.",
    "mlflowSearchRuns": "Experiment not found.",
    "mlflowGetMetricHistoryBulkInterval": "Run not found.",
}
"""The fixed sentence of each root field's "not found"."""
REFUSED_ERROR = "The tracking server refused this query."
_MLFLOW_NOT_FOUND = re.compile(r"(not found|does not exist\.?|^No Experiment with id=\S+ exists)$")
_INTROSPECTION = frozenset({"__schema", "__type"})
_BODY_KEYS = frozenset({"query", "variables", "operationName", "extensions"})


def _invalid(message: str) -> MlflowApiError:
    return MlflowApiError(400, "INVALID_PARAMETER_VALUE", message)


@dataclass(frozen=True)
class RootField:
    """A root field of a checked query: its key in the answer (the alias, or the name), its name, the keys it asks
    for directly below it, and what it asks of ``apiError`` (so a "not found" is answered in the shape the query
    expects)."""

    key: str
    name: str
    fields: tuple[str, ...]
    api_error: tuple[str, ...]


@dataclass(frozen=True)
class CheckedQuery:
    """A query the UI may send: the document to forward, the permissions it needs and its root fields."""

    body: bytes
    permissions: frozenset[str]
    roots: tuple[RootField, ...]

    def scrub(self, content: bytes) -> bytes:
        """MLflow's answer to this query without any of MLflow's error texts (see the module docstring)."""
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict | None):
            return orjson.dumps({"data": None, "errors": [REFUSED_ERROR]})
        data: dict[str, Any] = answer.get("data") or {}
        errors = [str(e) for e in answer.get("errors") or ()]
        refusals = [REFUSED_ERROR] * len(errors)
        for root in self.roots:
            value = data.get(root.key)
            if isinstance(value, dict) and isinstance(value.get("apiError"), dict):
                value["apiError"]["message"] = REFUSED_ERROR
        missing = [root for root in self.roots if data.get(root.key) is None]
        if len(missing) == 1 and len(errors) == 1 and _MLFLOW_NOT_FOUND.search(errors[0]):
            root = missing[0]
            values = {"code": "RESOURCE_DOES_NOT_EXIST", "message": NOT_FOUND[root.name], "helpUrl": None}
            values["__typename"] = "ApiError"
            if root.api_error:
                reply = {f: None for f in root.fields} | {"apiError": {f: values.get(f) for f in root.api_error}}
                data[root.key], refusals = reply, []
            else:
                refusals = [NOT_FOUND[root.name]]
        return orjson.dumps({"data": data or None, "errors": refusals or None})


def _keys(selection_set: SelectionSetNode | None) -> tuple[str, ...]:
    """The answer's keys a selection set asks for directly (aliases, or names; fragments are not followed)."""
    selections = selection_set.selections if selection_set else ()
    return tuple((f.alias or f.name).value for f in selections if isinstance(f, FieldNode))


def _api_error_fields(selection_set: SelectionSetNode | None) -> tuple[str, ...]:
    """The subfields a root field's selection asks of ``apiError`` (directly below it)."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode) and selection.name.value == "apiError":
            return _keys(selection.selection_set)
    return ()


def _fields(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]) -> Iterator[str]:
    """Every field name below a selection set, through fragments (each fragment once)."""
    seen: set[str] = set()
    stack = [selection_set] if selection_set else []
    while stack:
        current = stack.pop()
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                yield selection.name.value
                if selection.selection_set:
                    stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in fragments:
                    raise _invalid(f"Unknown fragment {name!r}.")
                if name not in seen:
                    seen.add(name)
                    stack.append(fragments[name].selection_set)


def check_query(raw: bytes) -> CheckedQuery:
    """Parse and check a GraphQL request body; raise 400 ``INVALID_PARAMETER_VALUE`` for anything not allowed."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _invalid("The request body is not valid JSON.") from exc
    if not isinstance(body, dict) or not set(body) <= _BODY_KEYS:
        raise _invalid("The request body must be a GraphQL request: query, variables, operationName.")
    query, variables, operation_name = body.get("query"), body.get("variables"), body.get("operationName")
    if not isinstance(query, str) or not query or len(query.encode()) > MAX_QUERY_BYTES:
        raise _invalid(f"The query must be a non-empty string of at most {MAX_QUERY_BYTES} bytes.")
    if variables is not None and not isinstance(variables, dict):
        raise _invalid("variables must be an object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _invalid("operationName must be a string.")
    try:
        document: DocumentNode = parse(query, no_location=True, max_tokens=4_000)
    except GraphQLError as exc:
        raise _invalid("The query is not valid GraphQL.") from exc
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if len(operations) != 1 or len(operations) + len(fragments) != len(document.definitions):
        raise _invalid("The document must hold exactly one operation (and its fragments).")
    operation = operations[0]
    if operation.operation is not OperationType.QUERY:
        raise _invalid("Only queries are served.")
    permissions: set[str] = set()
    roots: list[RootField] = []
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            raise _invalid("Fragments are not allowed at the root of a query.")
        name = selection.name.value
        if name == "__typename":
            continue
        if name not in ROOT_FIELDS:
            raise _invalid(f"The field {name!r} is not served.")
        permissions.add(ROOT_FIELDS[name])
        key = selection.alias.value if selection.alias else name
        roots.append(
            RootField(
                key=key,
                name=name,
                fields=_keys(selection.selection_set),
                api_error=_api_error_fields(selection.selection_set),
            )
        )
        for field in _fields(selection.selection_set, fragments):
            if field in _INTROSPECTION:
                raise _invalid("Introspection is not served.")
            if field in JOINS:
                permissions.add(JOINS[field])
    if not permissions:
        raise _invalid("The query asks for nothing.")
    forwarded: dict[str, Any] = {"query": print_ast(document)}
    if variables is not None:
        forwarded["variables"] = variables
    if operation_name is not None:
        forwarded["operationName"] = operation_name
    return CheckedQuery(body=orjson.dumps(forwarded), permissions=frozenset(permissions), roots=tuple(roots))
