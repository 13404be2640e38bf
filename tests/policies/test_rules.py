"""Every rule against its named passing and failing fixtures: directly, and through the analyzer as the engine calls
it. Both must find exactly the expected failing resources."""

from __future__ import annotations

import pytest
from maestro_policies.registry import FAMILY_RULES, all_rules
from maestro_policies.rule import Res, Rule

from .cases import CASES, STACK_PASSING, R

# A case key is a rule id, or "<rule id>/<variant>" for a second fixture set of the same rule.
from .engine import findings

RULES = {r.id: r for r in FAMILY_RULES}


def _res(r: R, env: str) -> Res:
    return Res(r.type, r.props, r.name, r.urn, env)


def failing_directly(rule: Rule, resources: list[R], env: str) -> set[str]:
    if rule.kind == "resource":
        return {r.name for r in resources if rule.run_resource(_res(r, env))}
    by_urn = {r.urn: r.name for r in resources}
    return {by_urn.get(urn, "") for urn, _ in rule.run_stack([_res(r, env) for r in resources], env)}


def test_every_rule_has_fixtures() -> None:
    assert {key.split("/")[0] for key in CASES} == set(RULES)
    assert len(all_rules()) >= 40


def test_rule_metadata_is_complete() -> None:
    for rule in all_rules():
        assert rule.id.startswith("MAESTRO-") and rule.id.split("-")[-1].isdigit()
        assert rule.title and rule.rationale and rule.fix
        assert rule.docs.startswith("https://")
        assert rule.severity in ("low", "medium", "high", "critical")
        assert rule.enforcement in ("advisory", "mandatory")
    covered = {c for r in all_rules() for c in r.covers}
    assert covered == {"aws", "gcp", "azure", "kubernetes"}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_flags_exactly_the_bad_fixtures(rule_id: str) -> None:
    case = CASES[rule_id]
    # Variants ("<id>/<name>") may be all-passing stacks; every rule's main case has failing fixtures.
    assert case.failing or "/" in rule_id, "a case must contain failing fixtures"
    assert failing_directly(RULES[rule_id.split("/")[0]], case.resources, case.env) == case.failing


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_has_a_passing_outcome(rule_id: str) -> None:
    case = CASES[rule_id]
    if rule_id in STACK_PASSING:
        assert failing_directly(RULES[rule_id], STACK_PASSING[rule_id], case.env) == set()
    else:
        passing = [r for r in case.resources if r.name not in case.failing]
        assert passing, "a case must contain passing fixtures"
        assert failing_directly(RULES[rule_id.split("/")[0]], passing, case.env) == set()


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_engine_path_agrees(rule_id: str) -> None:
    """Through Configure/Analyze/AnalyzeStack on pulumi-policy's servicer, with the prod policy config."""
    case = CASES[rule_id]
    found = findings(case.resources, case.env)
    hits = [f for f in found if f.rule == rule_id.split("/")[0]]
    assert {f.resource if f.urn else "" for f in hits} == case.failing
    assert all(f.status == "violation" and f.enforcement == "mandatory" for f in hits)
    assert all("Fix: " in f.message and "Docs: https://" in f.message for f in hits)


def test_dev_environment_is_advisory_and_relaxes_prod_only_rules() -> None:
    case = CASES["MAESTRO-DB-006"]
    assert not [f for f in findings(case.resources, "dev") if f.rule == "MAESTRO-DB-006"]
    hits = [f for f in findings(CASES["MAESTRO-DB-001"].resources, "dev") if f.rule == "MAESTRO-DB-001"]
    assert hits and all(f.enforcement == "advisory" for f in hits)


def test_backup_retention_threshold_depends_on_environment() -> None:
    seven_days = [R("aws:rds/instance:Instance", "pg", {"backupRetentionPeriod": 7})]
    assert [f.rule for f in findings(seven_days, "prod") if f.rule == "MAESTRO-DB-005"] == ["MAESTRO-DB-005"]
    assert not [f for f in findings(seven_days, "dev") if f.rule == "MAESTRO-DB-005"]


def test_aws_provider_default_tags_count() -> None:
    from maestro.offline import policycheck
    from maestro.offline.mockrun import RecordedResource as Recorded

    provider_urn = "urn:pulumi:fixture::maestro::pulumi:providers:aws::tagged"
    tags = '{"tags":{"owner":"platform","environment":"prod","cost-center":"cc-1"}}'
    resources = [
        Recorded(provider_urn, "pulumi:providers:aws", "tagged", {"defaultTags": tags}),
        Recorded(
            "urn:pulumi:fixture::maestro::aws:kms/key:Key::k1",
            "aws:kms/key:Key",
            "k1",
            {"enableKeyRotation": True},
            provider=f"{provider_urn}::id-1",
        ),
        Recorded(
            "urn:pulumi:fixture::maestro::aws:kms/key:Key::k2", "aws:kms/key:Key", "k2", {"enableKeyRotation": True}
        ),
    ]
    analyzer = policycheck.inprocess_analyzer(policycheck.PACK_DIR / "no-such-file.yaml")
    found = policycheck.run_pack(analyzer, "fixture", resources, "prod")
    assert {f.resource for f in found if f.rule == "MAESTRO-TAG-001"} == {"k2"}
    # Default tags from stack config reach resources on the default provider, as in the engine.
    found = policycheck.run_pack(analyzer, "fixture", resources, "prod", {"aws:defaultTags": tags})
    assert not [f for f in found if f.rule == "MAESTRO-TAG-001"]
