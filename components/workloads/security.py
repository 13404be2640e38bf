"""Pod security and resources: the pieces every pod spec of the platform is built from."""

from __future__ import annotations

from typing import Any, Literal

PssLevel = Literal["restricted", "baseline", "privileged"]

# The uid/gid our own images run as (images/mlflow/Dockerfile and app/Dockerfile create this user).
APP_UID = 10001


def pss_labels(enforce: PssLevel, *, audit: PssLevel = "restricted") -> dict[str, str]:
    """Pod Security Admission labels; `audit`/`warn` stay at restricted so any exception is visible."""
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": audit,
        "pod-security.kubernetes.io/warn": audit,
    }


def pod_security_context(uid: int = APP_UID) -> dict[str, Any]:
    """Pod-level context satisfying the restricted profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(*, read_only_root: bool = True) -> dict[str, Any]:
    """Container-level context satisfying the restricted profile."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(cpu: str, memory: str, *, cpu_limit: str | None = None) -> dict[str, Any]:
    """Requests and limits; memory limit = request (no overcommit of memory), CPU limit defaults to 2x."""
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit or _double(cpu), "memory": memory},
    }


def _double(cpu: str) -> str:
    if cpu.endswith("m"):
        return f"{int(cpu[:-1]) * 2}m"
    return f"{int(float(cpu) * 2000)}m"


def tmp_volume(name: str = "tmp", size: str = "64Mi") -> tuple[dict[str, Any], dict[str, Any]]:
    """A memory-backed /tmp for a read-only root filesystem: (volume, mount)."""
    return (
        {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": size}},
        {"name": name, "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, private to the pod
    )


def zone_spread(labels: dict[str, str]) -> list[dict[str, Any]]:
    """Spread replicas across zones, then nodes."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": labels},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
