"""Shared helpers of the tests of components/: evaluate each shipped stack once per test session (the policy pack's
stack tests reuse these evaluations), walk pod specs, and the checkout's port map and observability directories."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from components.config import Ports, load_ports
from maestro.offline import mockrun
from maestro.paths import ROOT

SHIPPED = ("dev-kind", "dev-aws", "prod-aws")
PORTS_FILE = ROOT / "config" / "ports.yaml"
PORTS: Ports = load_ports(PORTS_FILE)
"""The checkout's port map, as __main__.py loads it."""
DASHBOARDS_DIR = ROOT / "dashboards" / "generated"
RULES_DIR = ROOT / "dashboards" / "rules"
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
