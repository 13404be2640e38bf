"""Kubernetes workloads: the Pod Security Standards "restricted" profile, resources, probes, pinned images, and
PodDisruptionBudgets for replicated components.

A setting may be made at pod level (spec.securityContext) or per container; the container value wins, as in the
kubelet. Every container counts, init containers included, except where noted (probes apply to long-running
containers only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .props import (
    LONG_RUNNING_TYPES,
    WORKLOAD_TYPES,
    as_list,
    containers,
    get,
    name_of,
    namespace_of,
    pod_labels,
    pod_spec,
    to_int,
    truthy,
)
from .rule import Family, Res, ResourceCheck, Rule, SeverityName

RULES = Family("kubernetes")

PSS_DOCS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"


def _effective(spec: Any, c: Any, key: str) -> Any:
    own = get(c, "securityContext", key)
    return own if own is not None else get(spec, "securityContext", key)


def _each_container(r: Res, *, init: bool = True) -> Iterator[tuple[Any, Any, str]]:
    spec = pod_spec(r.type, r.props)
    if spec is None:
        return
    for c in containers(spec, init=init):
        yield spec, c, str(get(c, "name", default="?"))


ContainerCheck = Callable[[Any, Any], Iterable[str]]
"""Given the pod spec and one container, yields what is wrong with that container."""


def _k8s_rule(
    id: str,
    title: str,
    rationale: str,
    fix: str,
    *,
    severity: SeverityName = "high",
    docs: str = PSS_DOCS,
    types: Iterable[str] = WORKLOAD_TYPES,
) -> Callable[[ResourceCheck], Rule]:
    return RULES.resource(id, title, rationale, severity, fix, docs, types=types)


def per_container(check: ContainerCheck) -> ResourceCheck:
    """A check of one container, run on every container of the workload (init containers too); each violation
    names its container."""

    def each(r: Res) -> Iterator[str]:
        for spec, c, name in _each_container(r):
            for detail in check(spec, c):
                yield f"container {name}: {detail}"

    return each


@_k8s_rule(
    "MAESTRO-K8S-001",
    "Containers run as a non-root user.",
    "A root process that escapes the container is root on the node.",
    "Set securityContext.runAsNonRoot true (pod or container) and a non-zero runAsUser; use a non-root image.",
)
@per_container
def run_as_non_root(spec: Any, c: Any) -> Iterable[str]:
    if not truthy(_effective(spec, c, "runAsNonRoot")):
        yield "runAsNonRoot is not true."
    elif _effective(spec, c, "runAsUser") == 0:
        yield "runAsUser is 0."


@_k8s_rule(
    "MAESTRO-K8S-002",
    "Containers cannot escalate privileges and are not privileged.",
    "setuid binaries and privileged mode turn any code execution in the pod into node compromise.",
    "Set securityContext.allowPrivilegeEscalation false and never privileged true on every container.",
    severity="critical",
)
@per_container
def no_privilege_escalation(_spec: Any, c: Any) -> Iterable[str]:
    if get(c, "securityContext", "allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false."
    if truthy(get(c, "securityContext", "privileged")):
        yield "privileged is true."


ALLOWED_ADDED_CAPS = frozenset({"NET_BIND_SERVICE"})


@_k8s_rule(
    "MAESTRO-K8S-003",
    "Containers drop all Linux capabilities.",
    "Capabilities like NET_RAW or SYS_ADMIN give a compromised process kernel-level reach it never needs.",
    "Set securityContext.capabilities.drop ['ALL']; add back only NET_BIND_SERVICE if a port below 1024 is needed.",
)
@per_container
def capabilities_dropped(_spec: Any, c: Any) -> Iterable[str]:
    drop = {str(x) for x in as_list(get(c, "securityContext", "capabilities", "drop"))}
    add = {str(x) for x in as_list(get(c, "securityContext", "capabilities", "add"))}
    if "ALL" not in drop:
        yield "capabilities.drop does not include ALL."
    extra = sorted(add - ALLOWED_ADDED_CAPS)
    if extra:
        yield f"adds capabilities {', '.join(extra)}."


@_k8s_rule(
    "MAESTRO-K8S-004",
    "Containers run with a seccomp profile.",
    "RuntimeDefault seccomp blocks the syscalls most container escapes use.",
    "Set spec.securityContext.seccompProfile.type 'RuntimeDefault' (or 'Localhost') in the pod template.",
)
@per_container
def seccomp(spec: Any, c: Any) -> Iterable[str]:
    kind = get(c, "securityContext", "seccompProfile", "type") or get(spec, "securityContext", "seccompProfile", "type")
    if kind not in ("RuntimeDefault", "Localhost"):
        yield f"seccompProfile.type is {kind!r}."


@_k8s_rule(
    "MAESTRO-K8S-005",
    "Pods do not share the node's namespaces.",
    "hostNetwork, hostPID and hostIPC let a pod see and talk to everything on the node.",
    "Remove hostNetwork, hostPID, hostIPC and hostPort from the pod template.",
    severity="critical",
)
def no_host_namespaces(r: Res) -> Iterable[str]:
    spec = pod_spec(r.type, r.props)
    if spec is None:
        return
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if truthy(get(spec, key)):
            yield f"{key} is true."
    for _spec, c, name in _each_container(r):
        for port in as_list(get(c, "ports")):
            if to_int(get(port, "hostPort")):
                yield f"container {name}: hostPort {get(port, 'hostPort')}."


@_k8s_rule(
    "MAESTRO-K8S-006",
    "Pods do not mount host paths.",
    "A hostPath volume reads (or writes) the node's filesystem, including other pods' secrets.",
    "Use a PersistentVolumeClaim, emptyDir, configMap, secret or projected volume instead of hostPath.",
    severity="critical",
)
def no_host_path(r: Res) -> Iterable[str]:
    for v in as_list(get(pod_spec(r.type, r.props), "volumes")):
        if get(v, "hostPath") is not None:
            yield f"volume {get(v, 'name')} is a hostPath ({get(v, 'hostPath', 'path')})."


@_k8s_rule(
    "MAESTRO-K8S-007",
    "Containers declare CPU and memory requests and a memory limit.",
    "Without requests the scheduler overcommits nodes; without a memory limit one leak evicts its neighbours. "
    "CPU limits are not required: throttling hurts latency more than it protects.",
    "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container.",
    severity="medium",
    docs="https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
)
@per_container
def resources(_spec: Any, c: Any) -> Iterable[str]:
    missing = [
        f"{kind}.{res}"
        for kind, res in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))
        if get(c, "resources", kind, res) in (None, "")
    ]
    if missing:
        yield f"missing {', '.join(missing)}."


@_k8s_rule(
    "MAESTRO-K8S-008",
    "Long-running containers have readiness and liveness probes.",
    "Without readiness a rolling update sends traffic to pods that cannot serve; without liveness a hung process "
    "stays in rotation.",
    "Add readinessProbe and livenessProbe (httpGet /readyz and /healthz for Maestro services) to each container.",
    severity="medium",
    docs="https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/",
    types=LONG_RUNNING_TYPES,
)
def probes(r: Res) -> Iterable[str]:
    for _spec, c, name in _each_container(r, init=False):
        missing = [p for p in ("readinessProbe", "livenessProbe") if get(c, p) is None]
        if missing:
            yield f"container {name}: missing {', '.join(missing)}."


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.rsplit(":", 1)[1] not in ("latest", "")


@_k8s_rule(
    "MAESTRO-K8S-009",
    "Images are pinned to a tag other than latest, or to a digest.",
    "`latest` (or no tag) makes every node restart a silent upgrade and every rollback a guess.",
    "Reference images by an immutable version tag or, better, by @sha256 digest.",
    severity="medium",
    docs="https://kubernetes.io/docs/concepts/containers/images/#image-names",
)
@per_container
def pinned_images(_spec: Any, c: Any) -> Iterable[str]:
    image = get(c, "image")
    if not isinstance(image, str) or not image_is_pinned(image):
        yield f"image {image!r} is not pinned."


def _selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    wanted = get(selector, "matchLabels", default={})
    if not wanted and not as_list(get(selector, "matchExpressions")):
        return False
    return all(labels.get(k) == v for k, v in wanted.items())


@RULES.stack(
    "MAESTRO-K8S-010",
    "Replicated workloads have a PodDisruptionBudget.",
    "Without a PDB a node drain may evict every replica of the API or of Postgres at once.",
    "medium",
    "Add a policy/v1 PodDisruptionBudget in the same namespace whose selector matches the pod labels, with "
    "minAvailable or maxUnavailable.",
    "https://kubernetes.io/docs/tasks/run-application/configure-pdb/",
    covers=("kubernetes",),
)
def pdbs(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
    budgets = [r for r in resources if r.type == PDB]
    for r in resources:
        if r.type not in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            continue
        if to_int(get(r.props, "spec", "replicas"), 1) < 2:
            continue
        labels = pod_labels(r.type, r.props)
        ns = namespace_of(r.props)
        if not any(
            namespace_of(b.props) == ns and _selector_matches(get(b.props, "spec", "selector"), labels) for b in budgets
        ):
            yield (
                r.urn,
                f"{name_of(r.name, r.props)} in {ns} has {get(r.props, 'spec', 'replicas')} replicas and no PDB.",
            )
