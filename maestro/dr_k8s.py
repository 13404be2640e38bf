"""`maestro restore --stack S --to T`: the Kubernetes path, a point-in-time clone through the postgres-operator.

Choice: the command edits the stack file (`stacks/Pulumi.<S>.yaml`, key `maestro:restore`) rather than only
printing a `pulumi config set` line, so the restore is a reviewable diff in git and `pulumi up` reproduces it;
the equivalent `pulumi config set` command is printed as well for those who keep config elsewhere.

Steps:
1. Read the stack outputs (`pulumi stack output --json`, or `--outputs FILE` with that JSON saved): the backup
   bucket the clone reads from.
2. Refuse (exit 2) a target the bucket cannot hold: `latest` (the operator's clone needs a time), a future time,
   or one older than the stack's backup retention.
3. Write `maestro:restore` (sourceCluster, sourceUid, timestamp), confirmed or `--yes`.
4. Verify the change offline: evaluate the program under mocks with the new stack file and check the
   `postgresql` object is a clone of the source cluster at the timestamp, reading the stack's bucket, and that
   no resource of the current program disappears (nothing is deleted by `pulumi up`).

What this program version cannot do (see docs/dr.md): it has one `postgresql` object, `maestro-pg`. With
`maestro:restore` set, that object is *created* as a clone; the operator ignores `clone` on an object that
already exists. So the path restores after the cluster object is lost (or into a new stack); a clone next to a
live cluster, and the endpoint switch after it, need a second cluster name in components/ first.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from maestro import dr_pgbackrest as pgbr

RESTORE_KEY = "maestro:restore"
POSTGRESQL_TYPE = "kubernetes:acid.zalan.do/v1:postgresql"
console = Console(stderr=True)

StepFn = Callable[[int, int, str], AbstractContextManager[None]]
ConfirmFn = Callable[[str, bool], None]


def read_outputs(stack: str, outputs_file: Path | None) -> dict[str, Any]:
    """The stack's outputs: from the saved JSON, or from `pulumi stack output --json`."""
    if outputs_file is not None:
        data: dict[str, Any] = json.loads(outputs_file.read_text())
        return data
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list
            ["pulumi", "stack", "output", "--json", "--stack", stack],  # noqa: S607 - the operator's pulumi
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as e:
        raise pgbr.DrError(
            f"cannot read the outputs of stack {stack!r} ({e}); save them with "
            f"`pulumi stack output --json -s {stack} > outputs.json` and pass --outputs outputs.json"
        ) from None
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def check_stack_target(target: pgbr.Target, *, retention_days: int, now: datetime) -> datetime:
    """The target time, or a refusal (exit 2) when the bucket cannot hold it."""
    if target.time is None:
        raise pgbr.OutsideWindowError(
            "--to latest: the operator's clone restores to a time; give the time of the loss (ISO 8601 with offset)"
        )
    if target.time > now:
        raise pgbr.OutsideWindowError(f"--to {target}: in the future (now {now.isoformat()})")
    oldest = now - timedelta(days=retention_days)
    if target.time < oldest:
        raise pgbr.OutsideWindowError(
            f"--to {target}: older than the {retention_days}-day backup retention (oldest {oldest.isoformat()})"
        )
    return target.time


_RESTORE_BLOCK = re.compile(r"^  maestro:restore:.*\n(?:(?:    .*|\s*)\n)*", re.MULTILINE)


def with_restore(stack_text: str, restore: Mapping[str, str]) -> str:
    """The stack file with its `maestro:restore` block replaced (or appended), comments elsewhere kept."""
    block = "  maestro:restore:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in restore.items())
    if _RESTORE_BLOCK.search(stack_text):
        return _RESTORE_BLOCK.sub(lambda _: block, stack_text, count=1)
    return stack_text.rstrip("\n") + "\n" + block


def postgres_clusters(resources: list[Any]) -> list[Any]:
    return [r for r in resources if r.type == POSTGRESQL_TYPE]


def verify_plan(before: list[Any], after: list[Any], *, cluster: str, uid: str, timestamp: str, bucket: str) -> None:
    """The evaluated program restores what was asked, from the right bucket, and deletes nothing."""
    from maestro.mockrun import plain

    clones = [r for r in postgres_clusters(after) if "clone" in (plain(r.inputs).get("spec") or {})]
    if len(clones) != 1:
        raise pgbr.DrError(f"expected one postgresql clone in the evaluated program, found {len(clones)}")
    spec = plain(clones[0].inputs)["spec"]
    if spec["clone"] != {"cluster": cluster, "uid": uid, "timestamp": timestamp}:
        raise pgbr.DrError(f"the clone spec is {spec['clone']}, not {cluster}/{uid} at {timestamp}")
    buckets = {e["value"] for e in spec.get("env", []) if re.fullmatch(r"CLONE_WAL_(S3|GS|AZ)_BUCKET", e["name"])}
    if buckets != {bucket}:
        raise pgbr.DrError(f"the clone reads from {sorted(buckets)}, not the stack's backup bucket {bucket!r}")
    gone = sorted({r.urn for r in before} - {r.urn for r in after})
    if gone:
        raise pgbr.DrError(f"the restore config would delete {len(gone)} resources, e.g. {gone[0]}")


def restore_stack(
    stack: str,
    target: pgbr.Target,
    *,
    source_uid: str | None,
    outputs_file: Path | None,
    stack_file: Path | None,
    yes: bool,
    confirm: ConfirmFn,
    step: StepFn,
    now: datetime | None = None,
) -> Path:
    """Write and verify the `maestro:restore` config of `stack`; returns the stack file written."""
    from components.config import ConfigError, load_config
    from components.kubernetes.postgres import CLUSTER
    from maestro import mockrun

    path = stack_file or mockrun.stack_file_for(stack)
    with step(1, 4, f"reading the outputs of {stack}"):
        outputs = read_outputs(stack, outputs_file)
        bucket = outputs.get("backupBucket")
        if not bucket:
            raise pgbr.DrError(f"stack {stack!r} exports no backupBucket: there is nothing to restore from")
        source_cluster = str(outputs.get("postgresCluster") or CLUSTER)
    with step(2, 4, "checking the target against the backup retention"):
        config, secret_keys = mockrun.load_stack_config(path)
        raw = {k.split(":", 1)[1]: _json(v) for k, v in config.items() if k.startswith("maestro:")}
        try:
            settings = load_config(raw, region=config.get("aws:region"))
        except ConfigError as e:
            raise pgbr.DrError(f"{path}: {e}") from None
        when = check_stack_target(
            target, retention_days=settings.postgres.backup_retention_days, now=now or datetime.now(UTC)
        )
        if not source_uid:
            raise pgbr.DrError(
                "--source-uid is needed (WAL-G's backup path contains it): "
                f"kubectl -n maestro-data get postgresql {source_cluster} -o jsonpath='{{.metadata.uid}}'"
            )
    restore = {"sourceCluster": source_cluster, "sourceUid": source_uid, "timestamp": when.isoformat()}
    console.print(
        f"equivalent: pulumi config set --stack {stack} {RESTORE_KEY} {shlex.quote(json.dumps(restore))} --path=false"
    )
    confirm(
        f"Write {RESTORE_KEY} into {path}? `pulumi up` then creates {CLUSTER} as a clone of {source_cluster} at "
        f"{when.isoformat()} (only if the {CLUSTER} object no longer exists: the operator ignores clone on a live one)",
        yes,
    )
    original = path.read_text()
    with step(3, 4, f"writing {RESTORE_KEY} into {path}"):
        path.write_text(with_restore(original, restore))
    with step(4, 4, "evaluating the program under mocks and checking the clone"):
        try:
            before = mockrun.evaluate_config(stack, config, secret_keys=secret_keys)
            after = mockrun.evaluate_stack(stack, stack_file=path)
            verify_plan(
                before, after, cluster=source_cluster, uid=source_uid, timestamp=when.isoformat(), bucket=bucket
            )
        except Exception:
            path.write_text(original)  # never leave a config that failed verification
            raise
    console.print(f"next: commit {path}, run `pulumi up -s {stack}`, verify the clone, then remove {RESTORE_KEY}")
    return path


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
