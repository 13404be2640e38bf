"""`maestro restore --stack S --to T`: the config edit, its refusals, and the clone it produces under mocks."""

from __future__ import annotations

import json
import shutil
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from maestro.cli import app
from maestro.dr import kubernetes
from maestro.dr import pgbackrest as pgbr
from maestro.offline import mockrun

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
    first = kubernetes.with_restore(STACK_TEXT, {"sourceCluster": "maestro-pg", "sourceUid": UID, "timestamp": "t1"})
    assert first.startswith(STACK_TEXT)
    assert yaml.safe_load(first)["config"]["maestro:restore"]["timestamp"] == "t1"
    second = kubernetes.with_restore(first, {"sourceCluster": "maestro-pg", "sourceUid": UID, "timestamp": "t2"})
    assert second.count("maestro:restore") == 1 and "# another comment" in second
    assert yaml.safe_load(second)["config"]["maestro:restore"]["timestamp"] == "t2"
    middle = STACK_TEXT + "  maestro:restore:\n    timestamp: old\n  maestro:tags:\n    owner: x\n"
    replaced = yaml.safe_load(kubernetes.with_restore(middle, {"timestamp": "new"}))["config"]
    assert replaced["maestro:restore"] == {"timestamp": "new"} and replaced["maestro:tags"] == {"owner": "x"}


def test_stack_target_must_be_a_past_time_within_retention() -> None:
    assert kubernetes.check_stack_target(pgbr.Target(NOW - timedelta(days=6)), retention_days=7, now=NOW)
    for target, match in (
        (pgbr.Target(None), "clone restores to a time"),
        (pgbr.Target(NOW + timedelta(seconds=1)), "in the future"),
        (pgbr.Target(NOW - timedelta(days=7, seconds=1)), "retention"),
    ):
        with pytest.raises(pgbr.OutsideWindowError, match=match):
            kubernetes.check_stack_target(target, retention_days=7, now=NOW)


@dataclass
class _R:
    urn: str
    type: str = "x"
    inputs: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()


LIVE, CLONE = "maestro-pg", "maestro-pg-restore"
CLONE_SPEC = {"cluster": LIVE, "uid": UID, "timestamp": "t"}


def _world(
    *,
    clone: dict[str, Any] | None = None,
    clone_name: str = CLONE,
    endpoint: str = LIVE,
    creds: str | None = None,
    bucket: str = "b",
    live_spec: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> list[_R]:
    """A small stand-in for an evaluated program: the postgresql objects with their role Secrets and passwords,
    and the API's and MLflow's URL Secrets pointing at `endpoint` with the passwords of `creds` (default: the same)."""
    from components.workloads.postgres import ROLES, credentials_secret_name, service_host

    clusters = {LIVE: live_spec or {"teamId": "maestro"}}
    if clone is not None:
        clusters[clone_name] = {"clone": clone, "env": [{"name": "CLONE_WAL_S3_BUCKET", "value": bucket}]}
    found: list[_R] = []
    passwords: dict[tuple[str, str], str] = {}
    for cluster, spec in clusters.items():
        found.append(_R(f"urn:{cluster}", kubernetes.POSTGRESQL_TYPE, {"metadata": {"name": cluster}, "spec": spec}))
        for role in ROLES:
            passwords[cluster, role] = f"urn:{cluster}-{role}-password"
            found.append(_R(passwords[cluster, role], kubernetes.PASSWORD_TYPE))
            meta = {"metadata": {"name": credentials_secret_name(role, cluster)}}
            found.append(_R(f"urn:{cluster}-{role}", kubernetes.SECRET_TYPE, meta, (passwords[cluster, role],)))
    source = creds or endpoint

    def url(role: str, db: str) -> str:
        return f"postgresql+psycopg://{role}:pw@{service_host(endpoint)}:5432/{db}?sslmode=require"

    api = {"metadata": {"name": "maestro-api"}, "stringData": {"MAESTRO_DATABASE_URL": url("maestro_app", "maestro")}}
    found.append(_R("urn:api-secret", kubernetes.SECRET_TYPE, api, (passwords[source, "maestro_app"], "urn:pepper")))
    owner = url("maestro_owner", "maestro")
    migrate = {"metadata": {"name": "maestro-api-migrate"}, "stringData": {"MAESTRO_DATABASE_OWNER_URL": owner}}
    found.append(_R("urn:api-migrate-secret", kubernetes.SECRET_TYPE, migrate, (passwords[source, "maestro_owner"],)))
    mlflow = {"metadata": {"name": "mlflow-db"}, "stringData": {"uri": url("mlflow", "mlflow")}}
    found.append(_R("urn:mlflow-db", kubernetes.SECRET_TYPE, mlflow, (passwords[source, "mlflow"],)))
    found.append(_R("urn:api"))
    return [r for r in found if r.urn not in drop]


def test_verify_plan_both_outcomes() -> None:
    kw: dict[str, Any] = {"cluster": LIVE, "uid": UID, "timestamp": "t", "bucket": "b", "clone_name": CLONE}
    before = _world()
    kubernetes.verify_plan(before, _world(clone=CLONE_SPEC), **kw)
    cases = [
        (_world(), "found 0"),
        (_world(clone=CLONE_SPEC, clone_name="maestro-pg-other"), "named maestro-pg-other, not maestro-pg-restore"),
        (_world(clone={**CLONE_SPEC, "cluster": "other"}), "not maestro-pg/"),
        (_world(clone={**CLONE_SPEC, "timestamp": "t2"}), "at t$"),
        (_world(clone=CLONE_SPEC, bucket="elsewhere"), "backup bucket"),
        (_world(clone=CLONE_SPEC, live_spec={"teamId": "maestro", "clone": CLONE_SPEC}), "found 2"),
        (_world(clone=CLONE_SPEC, live_spec={"teamId": "changed"}), "change the live postgresql object"),
        (_world(clone=CLONE_SPEC, endpoint=CLONE), "move the platform's database URLs"),
        (_world(clone=CLONE_SPEC, drop=("urn:api",)), "would delete 1"),
    ]
    for after, match in cases:
        with pytest.raises(pgbr.DrError, match=match):
            kubernetes.verify_plan(before, after, **kw)
    # The clone in place of the live cluster (the old program's behaviour) is not a clone next to it.
    replaced = [r for r in _world(clone=CLONE_SPEC, clone_name=LIVE) if r.urn != "urn:maestro-pg"]
    with pytest.raises(pgbr.DrError):
        kubernetes.verify_plan(before, replaced, **{**kw, "clone_name": LIVE})


def test_verify_switch_both_outcomes() -> None:
    before = _world(clone=CLONE_SPEC)
    kubernetes.verify_switch(before, _world(clone=CLONE_SPEC, endpoint=CLONE), clone_name=CLONE)
    cases = [
        (_world(clone=CLONE_SPEC), "points at maestro-pg.maestro-data"),
        (_world(clone=CLONE_SPEC, endpoint=CLONE, creds=LIVE), "credentials of maestro-pg-restore"),
        (_world(endpoint=LIVE), "no postgresql object maestro-pg-restore"),
        (_world(clone=CLONE_SPEC, endpoint=CLONE, live_spec={"teamId": "x"}), "change the live postgresql"),
        (_world(clone=CLONE_SPEC, endpoint=CLONE, drop=("urn:api",)), "would delete 1"),
    ]
    for after, match in cases:
        with pytest.raises(pgbr.DrError, match=match):
            kubernetes.verify_switch(before, after, clone_name=CLONE)


def test_database_urls_need_the_url_secrets() -> None:
    assert set(kubernetes.database_urls(_world())) == {"MAESTRO_DATABASE_URL", "MAESTRO_DATABASE_OWNER_URL", "uri"}
    with pytest.raises(pgbr.DrError, match="no Secret 'mlflow-db'"):
        kubernetes.database_urls(_world(drop=("urn:mlflow-db",)))


STACK_WITH_POSTGRES = (
    STACK_TEXT + "  maestro:postgres:  # the database\n    instances: 1\n\n    # sizes\n    cpu: 250m\n"
)


def test_with_endpoint_edits_one_line_and_keeps_comments() -> None:
    inserted = kubernetes.with_endpoint(STACK_WITH_POSTGRES, "restore")
    # One line added, every other line (comments, the blank line) as it was.
    assert [line for line in inserted.splitlines() if line != "    endpoint: restore"] == (
        STACK_WITH_POSTGRES.splitlines()
    )
    assert len(inserted.splitlines()) == len(STACK_WITH_POSTGRES.splitlines()) + 1
    assert "# the database" in inserted and "    # sizes" in inserted and "# another comment" in inserted
    config = yaml.safe_load(inserted)["config"]
    assert config["maestro:postgres"] == {"instances": 1, "cpu": "250m", "endpoint": "restore"}
    kubernetes.check_only_changed(STACK_WITH_POSTGRES, inserted, "maestro:postgres", "endpoint")
    replaced = kubernetes.with_endpoint(inserted.replace("endpoint: restore", "endpoint: primary"), "restore")
    assert replaced == inserted
    appended = kubernetes.with_endpoint(STACK_TEXT, "restore")
    assert appended.startswith(STACK_TEXT)
    assert yaml.safe_load(appended)["config"]["maestro:postgres"] == {"endpoint": "restore"}
    with pytest.raises(pgbr.DrError, match="not a block mapping"):
        kubernetes.with_endpoint(STACK_TEXT + "  maestro:postgres: {instances: 1}\n", "restore")


def test_check_only_changed_both_outcomes() -> None:
    other = STACK_WITH_POSTGRES.replace("instances: 1", "instances: 2") + "    endpoint: restore\n"
    with pytest.raises(pgbr.DrError, match="also change \\['maestro:postgres'\\]"):
        kubernetes.check_only_changed(STACK_WITH_POSTGRES, other, "maestro:postgres", "endpoint")
    restored = kubernetes.with_restore(STACK_TEXT, {"timestamp": "t"})
    kubernetes.check_only_changed(STACK_TEXT, restored, "maestro:restore")
    with pytest.raises(pgbr.DrError, match="also change \\['maestro:waf'\\]"):
        kubernetes.check_only_changed(STACK_TEXT, restored.replace("mode: count", "mode: block"), "maestro:restore")


def _steps(number: int, total: int, what: str) -> AbstractContextManager[None]:
    return nullcontext()


def _refuse_unless_yes(question: str, yes: bool) -> None:
    if not yes:
        raise pgbr.RefusedError("not confirmed")


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
            "confirm": _refuse_unless_yes,
            "step": _steps,
            "now": NOW,
        }
        args.update(kw)
        target = args.pop("target", pgbr.Target(NOW - timedelta(hours=1)))
        kubernetes.restore_stack("dev-aws", target, **args)

    with pytest.raises(pgbr.RefusedError, match="not confirmed"):
        run()
    with pytest.raises(pgbr.OutsideWindowError):
        run(yes=True, target=pgbr.Target(NOW - timedelta(days=30)))
    with pytest.raises(pgbr.DrError, match=r"--source-uid .*exports no postgresClusterUid"):
        run(yes=True, source_uid=None)
    # With the UID exported, --source-uid is optional: the command gets as far as the confirmation.
    outputs.write_text(json.dumps({"backupBucket": "b", "postgresClusterUid": UID}))
    with pytest.raises(pgbr.RefusedError, match="not confirmed"):
        run(source_uid=None)
    # The clone's name must differ from its source (here the endpoint already points at a cluster of that name).
    outputs.write_text(json.dumps({"backupBucket": "b", "postgresCluster": CLONE, "postgresClusterUid": UID}))
    with pytest.raises(pgbr.DrError, match=r"^maestro:restore.clusterName: must differ from sourceCluster"):
        run(yes=True)
    outputs.write_text(json.dumps({"backupBucket": None}))
    with pytest.raises(pgbr.DrError, match="no backupBucket"):
        run(yes=True)
    assert stack_file.read_text() == original

    # A stack that already holds a restore: a second clone under the same name would restore nothing.
    outputs.write_text(json.dumps({"backupBucket": "b"}))
    restore = {"sourceCluster": LIVE, "sourceUid": UID, "timestamp": (NOW - timedelta(days=1)).isoformat()}
    stack_file.write_text(kubernetes.with_restore(original, restore))
    held = stack_file.read_text()
    with pytest.raises(
        pgbr.RefusedError, match=r"already holds maestro:restore \(clone maestro-pg-restore of maestro-pg"
    ):
        run(yes=True)
    assert stack_file.read_text() == held


def test_switch_refusals_and_no_op(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.dev-aws.yaml"
    shutil.copy(mockrun.stack_file_for("dev-aws"), stack_file)
    original = stack_file.read_text()

    def switch(yes: bool = False) -> Path:
        return kubernetes.switch_stack(
            "dev-aws", stack_file=stack_file, yes=yes, confirm=_refuse_unless_yes, step=_steps
        )

    with pytest.raises(pgbr.RefusedError, match="holds no maestro:restore: there is no clone") as err:
        switch(yes=True)
    assert err.value.exit_code == 2
    assert stack_file.read_text() == original
    restore = {"sourceCluster": LIVE, "sourceUid": UID, "timestamp": "2026-11-27T23:00:00+00:00"}
    with_clone = kubernetes.with_restore(original, restore)
    stack_file.write_text(with_clone)
    with pytest.raises(pgbr.RefusedError, match="not confirmed"):
        switch()
    assert stack_file.read_text() == with_clone
    # Already switched: nothing to confirm, nothing written.
    switched = kubernetes.with_endpoint(with_clone, "restore")
    stack_file.write_text(switched)
    assert switch() == stack_file and stack_file.read_text() == switched


def test_cli_switch_refusals(tmp_path: Path) -> None:
    stack_file = tmp_path / "s.yaml"
    shutil.copy(mockrun.stack_file_for("dev-aws"), stack_file)
    original = stack_file.read_text()
    base = ["restore", "--stack", "dev-aws", "--stack-file", str(stack_file)]
    result = CliRunner().invoke(app, [*base, "--switch", "--yes"])
    assert result.exit_code == 2 and "no clone to switch to" in result.output
    result = CliRunner().invoke(app, [*base, "--switch", "--to", "latest"])
    assert result.exit_code == 1 and "without --to" in result.output
    result = CliRunner().invoke(app, ["restore", "--inventory", "x.yml", "--switch"])
    assert result.exit_code == 1 and "--switch goes with --stack" in result.output
    result = CliRunner().invoke(app, base)
    assert result.exit_code == 1 and "--to is needed" in result.output
    assert stack_file.read_text() == original


def _uid_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@pytest.mark.stacks
def test_restore_then_switch_under_mocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dev-aws: the clone comes next to the live cluster from the exported UID, then --switch moves the API's and
    MLflow's URLs to it; the live cluster's objects never change and nothing is deleted."""
    evaluations: list[mockrun.RecordedResources] = []
    real_evaluate = mockrun.evaluate_stack

    def recording(stack: str, *, stack_file: Path | None = None) -> mockrun.RecordedResources:
        evaluations.append(real_evaluate(stack, stack_file=stack_file))
        return evaluations[-1]

    monkeypatch.setattr(mockrun, "evaluate_stack", recording)
    stack_file = tmp_path / "Pulumi.dev-aws.yaml"
    shutil.copy(mockrun.stack_file_for("dev-aws"), stack_file)
    comments = [line for line in stack_file.read_text().splitlines() if line.lstrip().startswith("#")]
    live = real_evaluate("dev-aws", stack_file=stack_file)
    assert live.outputs["postgresCluster"] == LIVE and "postgresRestoreCluster" not in live.outputs
    assert live.outputs["postgresClusterUid"] == _uid_of("maestro-workloads-postgres-cluster")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: v for k, v in live.outputs.items() if k != "kubeconfig"}))
    when = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    base = ["restore", "--stack", "dev-aws", "--outputs", str(outputs), "--stack-file", str(stack_file)]

    result = CliRunner().invoke(app, [*base, "--to", when.isoformat(), "--yes"])
    assert result.exit_code == 0, result.output
    assert "pulumi config set --stack dev-aws maestro:restore" in result.output
    written = yaml.safe_load(stack_file.read_text())["config"]["maestro:restore"]
    uid = live.outputs["postgresClusterUid"]
    assert written == {"sourceCluster": LIVE, "sourceUid": uid, "timestamp": when.isoformat(), "clusterName": CLONE}
    restored = evaluations[-1]
    clusters = {mockrun.plain(r.inputs)["metadata"]["name"]: r for r in restored.of_type(kubernetes.POSTGRESQL_TYPE)}
    assert set(clusters) == {LIVE, CLONE}
    (live_pg,) = live.of_type(kubernetes.POSTGRESQL_TYPE)
    assert clusters[LIVE].urn == live_pg.urn and clusters[LIVE].inputs == live_pg.inputs  # untouched
    spec = mockrun.plain(clusters[CLONE].inputs)["spec"]
    assert spec["clone"] == {"cluster": LIVE, "uid": uid, "timestamp": when.isoformat()}
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert env["CLONE_WAL_S3_BUCKET"] == live.outputs["backupBucket"] == env["WAL_S3_BUCKET"]
    assert env["CLONE_USE_WALG_RESTORE"] == "true"
    assert restored.outputs["postgresRestoreCluster"] == CLONE and restored.outputs["postgresCluster"] == LIVE
    assert kubernetes.database_urls(restored) == kubernetes.database_urls(live)
    assert {r.urn for r in live} <= {r.urn for r in restored}

    result = CliRunner().invoke(app, [*base, "--switch", "--yes"])
    assert result.exit_code == 0, result.output
    text = stack_file.read_text()
    assert yaml.safe_load(text)["config"]["maestro:postgres"] == {"endpoint": "restore"}
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == comments
    switched = evaluations[-1]
    kubernetes.check_urls(switched, CLONE)  # the clone's Service and the clone's own credentials
    with pytest.raises(pgbr.DrError, match="points at maestro-pg-restore"):
        kubernetes.check_urls(switched, LIVE)
    assert switched.outputs["postgresCluster"] == CLONE
    assert switched.outputs["postgresClusterUid"] == _uid_of("maestro-workloads-postgres-restore-cluster")
    for deployment in ("maestro-api", "mlflow"):
        (dep,) = [
            r for r in switched.of_type("kubernetes:apps/v1:Deployment") if r.inputs["metadata"]["name"] == deployment
        ]
        annotations = mockrun.plain(dep.inputs)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["maestro.dev/database-cluster"] == CLONE  # a new pod template: the pods restart
    assert [r.inputs for r in switched.of_type(kubernetes.POSTGRESQL_TYPE)] == [
        r.inputs for r in restored.of_type(kubernetes.POSTGRESQL_TYPE)
    ]
    assert {r.urn for r in live} <= {r.urn for r in switched}

    count = len(evaluations)
    result = CliRunner().invoke(app, [*base, "--switch"])
    assert result.exit_code == 0 and "already restore" in result.output and len(evaluations) == count
    assert stack_file.read_text() == text


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
