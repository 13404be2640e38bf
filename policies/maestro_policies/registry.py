"""The table of contents: every rule of the pack, in family order, and the policies built from them."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from . import databases, edge, identity, kubernetes, network, platform, secrets, storage, tagging
from .exceptions import ExceptionSet
from .rule import Family, Res, Rule, to_policy

PACK_NAME = "maestro-baseline"
PACK_DESCRIPTION = "Maestro's security baseline: storage, databases, network, edge, Kubernetes, identity, tagging."

FAMILY_RULES: list[Rule] = [
    *storage.RULES,
    *databases.RULES,
    *network.RULES,
    *edge.RULES,
    *kubernetes.RULES,
    *platform.RULES,
    *identity.RULES,
    *secrets.RULES,
    *tagging.RULES,
]


def expired_exceptions_rule(exceptions: ExceptionSet, today: _dt.date) -> Rule:
    """MAESTRO-GOV-001, bound to one exceptions file and one day."""

    @Family("governance").stack(
        "MAESTRO-GOV-001",
        "No exception in policies/exceptions.yaml has expired.",
        "Exceptions are loans, not gifts: an expired one means the accepted risk is no longer reviewed.",
        "high",
        "Fix the resource and delete the exception, or get the renewal reviewed and move its expiry date.",
        "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/configuration/",
        covers=("aws", "gcp", "azure", "kubernetes"),
    )
    def no_expired_exceptions(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
        for e in exceptions.expired(today):
            yield "", f"exception for {e.rule} on {e.resource!r} (owner {e.owner}) expired on {e.expires}."

    return no_expired_exceptions


def all_rules(exceptions: ExceptionSet | None = None, today: _dt.date | None = None) -> list[Rule]:
    """Every rule, the governance rule last."""
    return [*FAMILY_RULES, expired_exceptions_rule(exceptions or ExceptionSet([]), today or _dt.date.today())]


def build_policies(exceptions: ExceptionSet, today: _dt.date) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """The CrossGuard policies of the pack, honouring `exceptions` as of `today`."""
    return [to_policy(rule, exceptions, today) for rule in all_rules(exceptions, today)]
