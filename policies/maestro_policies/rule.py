"""What a Maestro rule is, and how it becomes a CrossGuard policy.

A rule is a small, pure check over the properties the engine sends (type token + camelCase inputs). It knows
nothing about gRPC: `to_policy` wraps it into a `ResourceValidationPolicy` / `StackValidationPolicy` that adds the
environment (from policy config), the exceptions file and the fix text with its documentation link.

Unknown values: under `pulumi preview` the pack receives proxies that raise `UnknownValueError` when a rule reads a
value that is not known yet; pulumi-policy turns that into an advisory "can't run policy ... during preview"
diagnostic. Rules therefore read values with plain indexing (never by unwrapping the proxy), so an unknown value is
reported as unknown, never as a violation.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .exceptions import ExceptionSet
from .props import env_from_tags

ENVIRONMENTS = ("dev", "staging", "prod")
DEFAULT_ENVIRONMENT = "prod"
"""With no `environment` in policy config and none on the resource, rules assume the strictest environment."""

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "environment": {
            "type": "string",
            "enum": list(ENVIRONMENTS),
            "description": "The stack's environment; rules with per-environment thresholds read it.",
        }
    }
)


@dataclass(frozen=True)
class Res:
    """One resource as a rule sees it."""

    type: str
    props: Mapping[str, Any]
    name: str
    urn: str
    env: str
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    parent: str = ""


SeverityName = Literal["low", "medium", "high", "critical"]
LevelName = Literal["advisory", "mandatory"]

ResourceCheck = Callable[[Res], Iterable[str]]
"""Yields one message per violation of this resource (nothing when it complies)."""

StackCheck = Callable[[Sequence[Res], str], Iterable[tuple[str, str]]]
"""Given every resource and the environment, yields (urn, message); urn "" means the stack as a whole."""


@dataclass(frozen=True)
class Rule:
    """One rule: id, metadata for the docs and the engine, and the check."""

    id: str
    title: str
    """One sentence: what must hold. Becomes the policy description the engine prints."""
    rationale: str
    """Why it matters (the docs page prints it)."""
    severity: SeverityName
    enforcement: LevelName
    """Default enforcement level when no policy config is given; per-environment configs override it."""
    fix: str
    """How to fix a violation, in one or two sentences."""
    docs: str
    """Link to the provider's documentation for the setting."""
    family: str
    kind: Literal["resource", "stack"]
    types: frozenset[str] = frozenset()
    """Resource type tokens the rule applies to (resource rules); empty means every type."""
    check: ResourceCheck | StackCheck | None = None
    covers: tuple[str, ...] = ()
    """Platforms the rule covers (aws, gcp, azure, kubernetes), for the docs."""

    def applies_to(self, typ: str) -> bool:
        return not self.types or typ in self.types

    def message(self, detail: str) -> str:
        return f"{detail} Fix: {self.fix} Docs: {self.docs}"

    def iter_resource(self, res: Res) -> Iterator[str]:
        """Violations one by one, so those found before an unknown value is read are still reported."""
        assert self.kind == "resource" and self.check is not None
        if self.applies_to(res.type):
            check: ResourceCheck = self.check  # type: ignore[assignment]
            yield from check(res)

    def run_resource(self, res: Res) -> list[str]:
        return list(self.iter_resource(res))

    def iter_stack(self, resources: Sequence[Res], env: str) -> Iterator[tuple[str, str]]:
        assert self.kind == "stack" and self.check is not None
        check: StackCheck = self.check  # type: ignore[assignment]
        yield from check(resources, env)

    def run_stack(self, resources: Sequence[Res], env: str) -> list[tuple[str, str]]:
        return list(self.iter_stack(resources, env))


@dataclass(frozen=True)
class About:
    """What every rule states about itself, as the first arguments of its family's decorator, in this order (see
    `Rule` for each field): a rule's header reads as one row of the pack's table."""

    id: str
    title: str
    rationale: str
    severity: SeverityName
    fix: str
    docs: str


AboutArgs = tuple[str, str, str, SeverityName, str, str]
"""`About`'s fields in order, as a decorator takes them."""

PLATFORMS = {"aws": "aws", "gcp": "gcp", "azure-native": "azure", "kubernetes": "kubernetes"}
"""Type token package -> the platform a rule covers, in the order the docs list them."""


def platforms(types: Iterable[str]) -> tuple[str, ...]:
    """The platforms the type tokens belong to: what a resource rule over these types covers."""
    packages = {t.split(":", 1)[0] for t in types}
    if packages - PLATFORMS.keys():
        raise ValueError(f"no platform for type tokens of {sorted(packages - PLATFORMS.keys())}")
    return tuple(platform for package, platform in PLATFORMS.items() if package in packages)


class Family:
    """The rules of one family (one module): its decorators make a check into a `Rule` of the family and keep it,
    in the order the module defines them. The registry reads each family, so no rule depends on a hand-kept list."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._rules: list[Rule] = []

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def resource(
        self,
        *about: *AboutArgs,
        types: Iterable[str],
        covers: tuple[str, ...] = (),
        enforcement: LevelName = "mandatory",
    ) -> Callable[[ResourceCheck], Rule]:
        """Decorator: a check of one resource becomes a resource rule over `types` (empty: every type; then give
        the platforms it `covers`)."""
        return lambda check: self._keep(About(*about), "resource", frozenset(types), check, covers, enforcement)

    def stack(
        self, *about: *AboutArgs, covers: tuple[str, ...] = (), enforcement: LevelName = "mandatory"
    ) -> Callable[[StackCheck], Rule]:
        """Decorator: a check over every resource of the stack becomes a stack rule over the platforms it `covers`."""
        return lambda check: self._keep(About(*about), "stack", frozenset(), check, covers, enforcement)

    def _keep(
        self,
        about: About,
        kind: Literal["resource", "stack"],
        types: frozenset[str],
        check: ResourceCheck | StackCheck,
        covers: tuple[str, ...],
        enforcement: LevelName,
    ) -> Rule:
        if bool(covers) == bool(types):
            raise ValueError(f"{about.id}: give covers exactly when there are no types to derive it from")
        rule = Rule(
            id=about.id,
            title=about.title,
            rationale=about.rationale,
            severity=about.severity,
            enforcement=enforcement,
            fix=about.fix,
            docs=about.docs,
            family=self.name,
            kind=kind,
            types=types,
            check=check,
            covers=covers or platforms(types),
        )
        self._rules.append(rule)
        return rule


def _configured_env(config: Mapping[str, Any]) -> str | None:
    env = config.get("environment") if config else None
    return str(env) if env in ENVIRONMENTS else None


def _level(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.enforcement == "mandatory" else EnforcementLevel.ADVISORY


def to_policy(
    rule: Rule, exceptions: ExceptionSet, today: _dt.date
) -> ResourceValidationPolicy | StackValidationPolicy:
    """The CrossGuard policy that runs `rule`, honouring `exceptions` as of `today`."""
    common: dict[str, Any] = {
        "enforcement_level": _level(rule),
        "config_schema": CONFIG_SCHEMA,
        "severity": Severity(rule.severity),
        "tags": [rule.family, *rule.covers],
        "remediation_steps": rule.fix,
        "url": rule.docs,
        "display_name": rule.id,
    }

    def report(report_violation: ReportViolation, urn: str, name: str, detail: str, stack: bool) -> None:
        verdict = exceptions.verdict(rule.id, urn=urn, name=name, today=today)
        if verdict.suppressed:
            return
        message = rule.message(detail) + verdict.note
        if stack:
            report_violation(message, urn or None)
        else:
            report_violation(message, None)

    if rule.kind == "resource":

        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if not rule.applies_to(args.resource_type):
                return
            props = args.props
            env = _configured_env(args.get_config()) or env_from_tags(args.resource_type, props) or DEFAULT_ENVIRONMENT
            provider_props = args.provider.props if args.provider is not None else {}
            res = Res(args.resource_type, props, args.name, args.urn, env, provider_props, args.opts.parent or "")
            for detail in rule.iter_resource(res):
                report(report_violation, args.urn, args.name, detail, stack=False)

        return ResourceValidationPolicy(rule.id, rule.title, validate, **common)

    def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        env = _configured_env(args.get_config()) or DEFAULT_ENVIRONMENT
        resources = [
            Res(
                r.resource_type,
                r.props,
                r.name,
                r.urn,
                env,
                r.provider.props if r.provider is not None else {},
                r.parent.urn if r.parent is not None else "",
            )
            for r in args.resources
        ]
        by_urn = {r.urn: r.name for r in resources}
        for urn, detail in rule.iter_stack(resources, env):
            report(report_violation, urn, by_urn.get(urn, ""), detail, stack=True)

    return StackValidationPolicy(rule.id, rule.title, validate_stack, **common)
