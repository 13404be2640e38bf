"""How the pack behaves as the engine drives it: unknown values, exceptions and their expiry, generated files,
report formats."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest
from maestro_policies import exceptions as exc
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from maestro.offline import policycheck

from .cases import CASES, R
from .engine import findings

RDS = "aws:rds/instance:Instance"


# --- unknown values ----------------------------------------------------------------------------------------------


def test_unknown_value_is_reported_as_unknown_not_as_a_violation() -> None:
    resources = [R(RDS, "pg", {"publiclyAccessible": UNKNOWN_BOOLEAN_VALUE, "backupRetentionPeriod": 35})]
    found = [f for f in findings(resources) if f.rule == "MAESTRO-DB-001"]
    assert len(found) == 1
    assert found[0].status == "unknown"
    assert found[0].enforcement == "advisory"
    assert found[0].resource == "pg"
    assert not policycheck.mandatory_violations(found)


def test_unknown_value_elsewhere_does_not_hide_a_known_violation() -> None:
    resources = [R(RDS, "pg", {"publiclyAccessible": True, "kmsKeyId": UNKNOWN_STRING_VALUE})]
    found = findings(resources)
    db1 = [f for f in found if f.rule == "MAESTRO-DB-001"]
    assert [f.status for f in db1] == ["violation"]
    # DB-002 finds storageEncrypted missing before it reads the unknown kmsKeyId: both are reported.
    db2 = sorted((f.status, f.message.split(" Fix:")[0]) for f in found if f.rule == "MAESTRO-DB-002")
    assert db2[1] == ("violation", "storageEncrypted is not true.")
    assert db2[0][0] == "unknown" and ".kmsKeyId" in db2[0][1]


def test_recorded_unknown_outputs_become_the_engine_sentinel() -> None:
    import pulumi.output

    assert policycheck.wire({"a": [pulumi.output.UNKNOWN]}) == {"a": [UNKNOWN_STRING_VALUE]}


def test_unknowns_in_stack_rules_are_unknown() -> None:
    resources = [
        R("aws:s3/bucketV2:BucketV2", "b", {"bucket": UNKNOWN_STRING_VALUE}),
    ]
    found = [f for f in findings(resources) if f.rule == "MAESTRO-STO-002"]
    assert [f.status for f in found] == ["unknown"]


# --- exceptions --------------------------------------------------------------------------------------------------

BAD = CASES["MAESTRO-DB-001"].resources


def _exceptions(tmp_path: Path, resource: str, expires: str) -> Path:
    path = tmp_path / "exceptions.yaml"
    path.write_text(
        "exceptions:\n"
        "  - rule: MAESTRO-DB-001\n"
        f"    resource: {resource!r}\n"
        "    reason: migration window for the legacy instance\n"
        "    owner: team-data\n"
        f"    expires: {expires}\n"
    )
    return path


def _db001(found: list[policycheck.Finding]) -> set[str]:
    return {f.resource for f in found if f.rule == "MAESTRO-DB-001"}


def test_exception_suppresses_until_it_expires(tmp_path: Path) -> None:
    path = _exceptions(tmp_path, "bad-rds", "2027-01-31")
    before = findings(BAD, exceptions=path, today=_dt.date(2027, 1, 30))
    assert _db001(before) == CASES["MAESTRO-DB-001"].failing - {"bad-rds"}
    assert not [f for f in before if f.rule == "MAESTRO-GOV-001"]

    after = findings(BAD, exceptions=path, today=_dt.date(2027, 1, 31))
    assert _db001(after) == CASES["MAESTRO-DB-001"].failing
    note = next(f for f in after if f.rule == "MAESTRO-DB-001" and f.resource == "bad-rds").message
    assert "expired on 2027-01-31" in note and "team-data" in note
    gov = [f for f in after if f.rule == "MAESTRO-GOV-001"]
    assert len(gov) == 1 and gov[0].enforcement == "mandatory" and "bad-rds" in gov[0].message


def test_exception_by_urn_pattern(tmp_path: Path) -> None:
    path = _exceptions(tmp_path, "urn:pulumi:*::aws:rds/instance:Instance::bad-*", "2099-01-01")
    found = findings(BAD, exceptions=path, today=_dt.date(2026, 1, 1))
    assert _db001(found) == CASES["MAESTRO-DB-001"].failing - {"bad-rds"}


def test_exception_for_another_rule_changes_nothing(tmp_path: Path) -> None:
    path = _exceptions(tmp_path, "*", "2099-01-01")
    found = findings(CASES["MAESTRO-DB-002"].resources, exceptions=path, today=_dt.date(2026, 1, 1))
    assert {f.resource for f in found if f.rule == "MAESTRO-DB-002"} == CASES["MAESTRO-DB-002"].failing


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "exceptions:\n  - rule: MAESTRO-DB-001\n    resource: x\n    reason: r\n    owner: o\n",
            "'expires' is required",
        ),
        ("exceptions:\n  - {rule: MAESTRO-DB-001, resource: x, reason: r, owner: o, expires: soon}\n", "ISO date"),
        ("exceptions:\n  - {rule: DB-1, resource: x, reason: r, owner: o, expires: 2027-01-01}\n", "MAESTRO-"),
        (
            "exceptions:\n  - {rule: MAESTRO-DB-001, resource: x, reason: '', owner: o, expires: 2027-01-01}\n",
            "'reason'",
        ),
        (
            "exceptions:\n  - {rule: MAESTRO-DB-001, resource: x, reason: r, owner: o, expires: 2027-01-01, x: 1}\n",
            "unknown field",
        ),
    ],
)
def test_malformed_exceptions_file_names_the_problem(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "exceptions.yaml"
    path.write_text(text)
    with pytest.raises(exc.ExceptionsFileError, match=error.replace("(", r"\(")):
        exc.load(path)


def test_shipped_exceptions_file_is_valid_and_current() -> None:
    from maestro_policies.registry import all_rules

    shipped = exc.load()
    ids = {r.id for r in all_rules()}
    assert all(e.rule in ids for e in shipped.entries)
    assert not shipped.expired(_dt.date.today())


# --- generated files and reports ---------------------------------------------------------------------------------


def test_generated_docs_and_configs_match_the_rules() -> None:
    """Fails on drift: run `make policy-docs` after changing a rule."""
    for path, text in policycheck.generated_files().items():
        assert path.read_text() == text, f"{path} is stale: run make policy-docs"


def test_docs_list_every_rule_with_severity_and_fix() -> None:
    from maestro_policies.registry import all_rules

    page = policycheck.render_docs()
    for rule in all_rules():
        assert f"### {rule.id}" in page
        assert rule.fix in page and rule.docs in page


def test_env_configs_are_advisory_in_dev_and_mandatory_in_prod() -> None:
    dev, prod = policycheck.policy_config("dev"), policycheck.policy_config("prod")
    assert {v["enforcementLevel"] for v in dev.values()} == {"advisory"}
    assert {v["enforcementLevel"] for v in prod.values()} == {"mandatory"}
    assert {v["environment"] for v in prod.values()} == {"prod"}


def test_sarif_and_json_reports() -> None:
    import json

    from maestro_policies.registry import all_rules

    found = findings(CASES["MAESTRO-DB-001"].resources)
    rules = all_rules()
    sarif = policycheck.to_sarif(found, rules)
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0" and len(run["tool"]["driver"]["rules"]) == len(rules)
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] == "error"
    assert {r["ruleId"] for r in run["results"]} == {f.rule for f in found}
    data = json.loads(policycheck.to_json(found))
    assert {d["resource"] for d in data if d["rule"] == "MAESTRO-DB-001"} == CASES["MAESTRO-DB-001"].failing


def test_environment_of_stack_names() -> None:
    assert policycheck.environment_of("dev-kind") == "dev"
    assert policycheck.environment_of("prod-aws") == "prod"
    assert policycheck.environment_of("demo") == "prod"
