"""The Service in front of an HTTP workload: one shape for the API and MLflow."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s


def http_service(
    name: str, service: str, namespace: str, labels: Mapping[str, str], port: int, opts: pulumi.ResourceOptions
) -> k8s.core.v1.Service:
    """A ClusterIP Service `service` that sends `port` to the container port named `http` of the pods with `labels`;
    the child `{name}-service` of the component that `opts` parents it to."""
    return k8s.core.v1.Service(
        f"{name}-service",
        metadata={"name": service, "namespace": namespace, "labels": dict(labels)},
        spec={
            "type": "ClusterIP",
            "selector": dict(labels),
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
        opts=opts,
    )
