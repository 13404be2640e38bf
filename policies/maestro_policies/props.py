"""Reading engine properties: nested lookups, tags and labels, JSON policy documents, Kubernetes pod specs.

Values may be plain dicts/lists or pulumi-policy's unknown-checking proxies (Mapping / Sequence); helpers test
for the abstract types so both work, and read through indexing so unknown values raise instead of passing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_MISSING = object()


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[p0][p1]..., or `default` as soon as a step is missing (a key absent, an index out of range, None)."""
    cur = obj
    for p in path:
        if cur is None:
            return default
        if isinstance(p, int):
            if not is_list(cur) or p >= len(cur):
                return default
            cur = cur[p]
        else:
            if not isinstance(cur, Mapping) or p not in cur:
                return default
            cur = cur[p]
    return default if cur is None else cur


def is_list(v: Any) -> bool:
    return isinstance(v, Sequence) and not isinstance(v, str | bytes)


def as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if is_list(v):
        return [v[i] for i in range(len(v))]
    return [v]


def truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def falsy_explicit(v: Any) -> bool:
    """True only when the value is explicitly false (absent is not false)."""
    return v is False or (isinstance(v, str) and v.lower() == "false")


def to_int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def json_doc(v: Any) -> Any:
    """A policy document given as a JSON string or as an object."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return None
    return v


def statements(doc: Any) -> list[Any]:
    return as_list(get(doc, "Statement"))


# --- tags and labels -------------------------------------------------------------------------------------------

REQUIRED_TAGS = ("owner", "environment", "cost-center")


def tags_of(typ: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The tag/label map a resource carries (None when it sets none)."""
    if typ.startswith("kubernetes:"):
        return _mapping(get(props, "metadata", "labels"))
    if typ.startswith("gcp:"):
        if typ == "gcp:sql/databaseInstance:DatabaseInstance":
            return _mapping(get(props, "settings", "userLabels"))
        if typ == "gcp:container/cluster:Cluster":
            return _mapping(get(props, "resourceLabels"))
        return _mapping(get(props, "labels"))
    return _mapping(get(props, "tags"))


def _mapping(v: Any) -> Mapping[str, Any] | None:
    return v if isinstance(v, Mapping) else None


def env_from_tags(typ: str, props: Mapping[str, Any]) -> str | None:
    tags = tags_of(typ, props)
    env = get(tags, "environment") if tags is not None else None
    return str(env) if isinstance(env, str) else None


# --- Kubernetes ------------------------------------------------------------------------------------------------

WORKLOAD_TYPES = frozenset(
    {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:apps/v1:ReplicaSet",
        "kubernetes:batch/v1:Job",
        "kubernetes:batch/v1:CronJob",
        "kubernetes:core/v1:Pod",
    }
)
LONG_RUNNING_TYPES = frozenset(
    {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"}
)


def pod_spec(typ: str, props: Mapping[str, Any]) -> Any:
    if typ == "kubernetes:core/v1:Pod":
        return get(props, "spec")
    if typ == "kubernetes:batch/v1:CronJob":
        return get(props, "spec", "jobTemplate", "spec", "template", "spec")
    return get(props, "spec", "template", "spec")


def pod_labels(typ: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    if typ == "kubernetes:core/v1:Pod":
        return _mapping(get(props, "metadata", "labels")) or {}
    return _mapping(get(props, "spec", "template", "metadata", "labels")) or {}


def containers(spec: Any, *, init: bool = True) -> Iterator[Any]:
    kinds = ("containers", "initContainers", "ephemeralContainers") if init else ("containers",)
    for kind in kinds:
        yield from as_list(get(spec, kind))


def namespace_of(props: Mapping[str, Any]) -> str:
    ns = get(props, "metadata", "namespace")
    return str(ns) if isinstance(ns, str) and ns else "default"


def name_of(res_name: str, props: Mapping[str, Any]) -> str:
    n = get(props, "metadata", "name")
    return str(n) if isinstance(n, str) and n else res_name
