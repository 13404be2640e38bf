"""`maestro restore --stack S --to T`: the config edit, its refusals, and the clone it produces under mocks."""

from __future__ import annotations

import json
import shutil
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from maestro import dr_k8s, mockrun
from maestro import dr_pgbackrest as pgbr
from maestro.cli import app

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
UID = "3f0e2a1c-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
STACK_TEXT = """\
# a comment that must survive
config:
  maestro:environment: dev
  maestro:cloud: aws
  # another comment
  maestro:waf:
    mode: count
"""


def test_with_restore_appends_then_replaces_keeping_comments() -> None:
    first = dr_k8s.with_restore(STACK_TEXT, {"sourceCluster": "maestro-pg", "sourceUid": UID, "timestamp": "t1"})
    assert first.startswith(STACK_TEXT)
    assert yaml.safe_load(first)["config"]["maestro:restore"]["timestamp"] == "t1"
    second = dr_k8s.with_restore(first, {"sourceCluster": "maestro-pg", "sourceUid": UID, "timestamp": "t2"})
    assert second.count("maestro:restore") == 1 and "# another comment" in second
    assert yaml.safe_load(second)["config"]["maestro:restore"]["timestamp"] == "t2"
    middle = STACK_TEXT + "  maestro:restore:\n    timestamp: old\n  maestro:tags:\n    owner: x\n"
    replaced = yaml.safe_load(dr_k8s.with_restore(middle, {"timestamp": "new"}))["config"]
    assert replaced["maestro:restore"] == {"timestamp": "new"} and replaced["maestro:tags"] == {"owner": "x"}


def test_stack_target_must_be_a_past_time_within_retention() -> None:
    assert dr_k8s.check_stack_target(pgbr.Target(NOW - timedelta(days=6)), retention_days=7, now=NOW)
    for target, match in (
        (pgbr.Target(None), "clone restores to a time"),
        (pgbr.Target(NOW + timedelta(seconds=1)), "in the future"),
        (pgbr.Target(NOW - timedelta(days=7, seconds=1)), "retention"),
    ):
        with pytest.raises(pgbr.OutsideWindowError, match=match):
            dr_k8s.check_stack_target(target, retention_days=7, now=NOW)


@dataclass
class _R:
    urn: str
    type: str = "x"
    inputs: dict[str, Any] = field(default_factory=dict)


def _clone(cluster: str = "maestro-pg", bucket: str = "b") -> _R:
    spec = {
        "clone": {"cluster": cluster, "uid": UID, "timestamp": "t"},
        "env": [{"name": "CLONE_WAL_S3_BUCKET", "value": bucket}, {"name": "WAL_S3_BUCKET", "value": bucket}],
    }
    return _R("urn:pg", dr_k8s.POSTGRESQL_TYPE, {"spec": spec})


def test_verify_plan_both_outcomes() -> None:
    before = [_R("urn:pg", dr_k8s.POSTGRESQL_TYPE, {"spec": {}}), _R("urn:api")]
    dr_k8s.verify_plan(before, [_clone(), _R("urn:api")], cluster="maestro-pg", uid=UID, timestamp="t", bucket="b")
    cases = [
        ([_R("urn:pg", dr_k8s.POSTGRESQL_TYPE, {"spec": {}}), _R("urn:api")], "found 0"),
        ([_clone(cluster="other"), _R("urn:api")], "not maestro-pg"),
        ([_clone(bucket="elsewhere"), _R("urn:api")], "backup bucket"),
        ([_clone()], "would delete 1"),
    ]
    for after, match in cases:
        with pytest.raises(pgbr.DrError, match=match):
            dr_k8s.verify_plan(before, after, cluster="maestro-pg", uid=UID, timestamp="t", bucket="b")


def _steps(number: int, total: int, what: str) -> AbstractContextManager[None]:
    return nullcontext()


def test_refusals_leave_the_stack_file_alone(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev-aws.yaml"
    shutil.copy(mockrun.stack_file_for("dev-aws"), stack_file)
    original = stack_file.read_text()
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"backupBucket": "b"}))

    def run(**kw: Any) -> None:
        args: dict[str, Any] = {
            "source_uid": UID,
            "outputs_file": outputs,
            "stack_file": stack_file,
            "yes": False,
            "confirm": lambda q, yes: (_ for _ in ()).throw(pgbr.RefusedError("no")) if not yes else None,
            "step": _steps,
            "now": NOW,
        }
        args.update(kw)
        target = args.pop("target", pgbr.Target(NOW - timedelta(hours=1)))
        dr_k8s.restore_stack("dev-aws", target, **args)

    with pytest.raises(pgbr.RefusedError):
        run()  # not confirmed
    with pytest.raises(pgbr.OutsideWindowError):
        run(yes=True, target=pgbr.Target(NOW - timedelta(days=30)))
    with pytest.raises(pgbr.DrError, match="--source-uid"):
        run(yes=True, source_uid=None)
    outputs.write_text(json.dumps({"backupBucket": None}))
    with pytest.raises(pgbr.DrError, match="no backupBucket"):
        run(yes=True)
    assert stack_file.read_text() == original


@pytest.mark.stacks
def test_restore_stack_writes_config_and_the_program_clones(tmp_path: Path) -> None:
    """dev-aws under mocks: the clone reads the stack's bucket at the timestamp, and nothing is deleted."""
    stack_file = tmp_path / "Pulumi.dev-aws.yaml"
    shutil.copy(mockrun.stack_file_for("dev-aws"), stack_file)
    live = mockrun.evaluate_stack("dev-aws", stack_file=stack_file)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: v for k, v in live.outputs.items() if k != "kubeconfig"}))
    when = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)

    result = CliRunner().invoke(
        app,
        ["restore", "--stack", "dev-aws", "--to", when.isoformat(), "--source-uid", UID, "--outputs", str(outputs),
         "--stack-file", str(stack_file), "--yes"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pulumi config set --stack dev-aws maestro:restore" in result.output

    written = yaml.safe_load(stack_file.read_text())["config"]["maestro:restore"]
    assert written == {"sourceCluster": "maestro-pg", "sourceUid": UID, "timestamp": when.isoformat()}
    restored = mockrun.evaluate_stack("dev-aws", stack_file=stack_file)
    (cluster,) = restored.of_type(dr_k8s.POSTGRESQL_TYPE)
    spec = mockrun.plain(cluster.inputs)["spec"]
    assert spec["clone"] == {"cluster": "maestro-pg", "uid": UID, "timestamp": when.isoformat()}
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert env["CLONE_WAL_S3_BUCKET"] == live.outputs["backupBucket"] == env["WAL_S3_BUCKET"]
    assert env["CLONE_USE_WALG_RESTORE"] == "true"
    # The old cluster's resources all remain (same URNs): `pulumi up` deletes nothing.
    assert {r.urn for r in live} <= {r.urn for r in restored}


def test_cli_refuses_latest_for_a_stack(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"backupBucket": "b"}))
    stack_file = tmp_path / "s.yaml"
    shutil.copy(mockrun.stack_file_for("dev-aws"), stack_file)
    original = stack_file.read_text()
    result = CliRunner().invoke(
        app,
        ["restore", "--stack", "dev-aws", "--to", "latest", "--outputs", str(outputs), "--stack-file", str(stack_file)],
    )
    assert result.exit_code == 2 and "clone restores to a time" in result.output
    assert stack_file.read_text() == original
