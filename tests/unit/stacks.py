"""Shared helpers: evaluate each shipped stack once per test session, and walk pod specs."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from maestro.offline import mockrun

SHIPPED = ("dev-kind", "dev-aws", "prod-aws")
WORKLOAD_TYPES = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:batch/v1:Job",
}


@functools.cache
def evaluated(stack: str) -> mockrun.RecordedResources:
    return mockrun.evaluate_stack(stack)


def pod_specs(resources: list[mockrun.RecordedResource]) -> Iterator[tuple[mockrun.RecordedResource, dict[str, Any]]]:
    for r in resources:
        if r.type in WORKLOAD_TYPES:
            yield r, mockrun.plain(r.inputs)["spec"]["template"]["spec"]


def by_suffix(resources: list[mockrun.RecordedResource], suffix: str) -> mockrun.RecordedResource:
    found = [r for r in resources if r.name.endswith(suffix)]
    assert len(found) == 1, f"{len(found)} resources end with {suffix!r}: {[r.urn for r in found]}"
    return found[0]
