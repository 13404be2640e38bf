"""`maestro restore --stack S`: the Kubernetes path, a point-in-time clone next to the live cluster, then a switch.

Choice: the commands edit the stack file (`stacks/Pulumi.<S>.yaml`) rather than only printing a `pulumi config set`
line, so each step is a reviewable diff in git and `pulumi up` reproduces it; the equivalent `pulumi config set`
command is printed as well for those who keep config elsewhere. The edits are line-based: every other line of the
file, comments included, stays as it was, and the parsed result is checked to differ only in the key written.

Step 1, `restore --stack S --to T`:
1. Read the stack outputs (`pulumi stack output --json`, or `--outputs FILE` with that JSON saved): the backup
   bucket, the cluster the platform uses (`postgresCluster`) and its object's UID (`postgresClusterUid`, so
   `--source-uid` is needed only for stacks that do not export it yet).
2. Refuse (exit 2) a target the bucket cannot hold (`latest`: the operator's clone needs a time; a future time; one
   older than the stack's backup retention), and a stack file that already holds a restore (the operator ignores
   `clone` on an object that exists, so a second clone under the same name would restore nothing).
3. Write `maestro:restore` (sourceCluster, sourceUid, timestamp, clusterName), confirmed or `--yes`.
4. Verify offline: evaluate the program under mocks before and after, and check that a second `postgresql`
   object `clusterName` is a clone of the source at the timestamp reading the stack's bucket, that the live
   cluster's objects and the platform's database URLs are unchanged, and that no resource disappears.

Step 2, `restore --stack S --switch`, once the clone is verified in the cluster:
1. Refuse (exit 2) when the stack file holds no `maestro:restore` (there is no clone to switch to).
2. Write `maestro:postgres.endpoint: restore`, confirmed or `--yes`.
3. Verify offline: the API's and MLflow's database URLs now name the clone's Service and come from the clone's own
   credentials, no `postgresql` object changes, and no resource disappears.

A verification that fails puts the file back as it was. Nothing here deletes anything: retiring the old cluster is
a manual change (docs/dr.md).
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from maestro.dr import pgbackrest as pgbr

RESTORE_KEY = "maestro:restore"
POSTGRES_KEY = "maestro:postgres"
POSTGRESQL_TYPE = "kubernetes:acid.zalan.do/v1:postgresql"
SECRET_TYPE = "kubernetes:core/v1:Secret"  # noqa: S105 - a type token
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"  # noqa: S105 - a type token
# The Secrets that carry the platform's database URLs: the API's (its service role), its migration Job's (the owner)
# and MLflow's.
URL_SECRETS = {
    "maestro-api": ("MAESTRO_DATABASE_URL",),
    "maestro-api-migrate": ("MAESTRO_DATABASE_OWNER_URL",),
    "mlflow-db": ("uri",),
}
# The role each URL above logs in as.
URL_ROLES = {"MAESTRO_DATABASE_URL": "maestro_app", "MAESTRO_DATABASE_OWNER_URL": "maestro_owner", "uri": "mlflow"}
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


def with_endpoint(stack_text: str, endpoint: str) -> str:
    """The stack file with `maestro:postgres.endpoint` set (the line replaced, added to the block, or a block
    appended), every other line kept."""
    lines = stack_text.splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if re.match(r"^  maestro:postgres:", line)), None)
    entry = f"    endpoint: {endpoint}\n"
    if header is None:
        return stack_text.rstrip("\n") + "\n" + "  maestro:postgres:\n" + entry
    if not re.fullmatch(r"  maestro:postgres:[ \t]*(#.*)?\n?", lines[header]):
        raise pgbr.DrError(f"{POSTGRES_KEY} is not a block mapping in the stack file; set endpoint: {endpoint} by hand")
    end = header + 1
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
        end += 1
    for i in range(header + 1, end):
        if re.match(r"^    endpoint:", lines[i]):
            lines[i] = entry
            return "".join(lines)
    lines.insert(header + 1, entry)
    return "".join(lines)


def _config_of(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text) or {}
    config: dict[str, Any] = data.get("config") or {}
    return config


def check_only_changed(before: str, after: str, key: str, field: str | None = None) -> None:
    """The parsed stack files differ only in `key` (or only in `key`'s `field`): the line edit did nothing else."""

    def without(config: dict[str, Any]) -> dict[str, Any]:
        if field is None:
            return {k: v for k, v in config.items() if k != key}
        rest = {k: v for k, v in (config.get(key) or {}).items() if k != field}
        return {**{k: v for k, v in config.items() if k != key}, key: rest}

    old, new = without(_config_of(before)), without(_config_of(after))
    if old != new:
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise pgbr.DrError(f"the edit of the stack file would also change {changed}; edit it by hand")


def postgres_clusters(resources: list[Any]) -> list[Any]:
    return [r for r in resources if r.type == POSTGRESQL_TYPE]


def _by_name(resources: list[Any], typ: str) -> dict[str, Any]:
    from maestro.offline.mockrun import plain

    return {plain(r.inputs)["metadata"]["name"]: r for r in resources if r.type == typ}


def database_urls(resources: list[Any]) -> dict[str, str]:
    """The platform's database URLs by key (`MAESTRO_DATABASE_URL`, `MAESTRO_DATABASE_OWNER_URL`, `uri`)."""
    from maestro.offline.mockrun import plain

    secrets = _by_name(resources, SECRET_TYPE)
    urls: dict[str, str] = {}
    for name, keys in URL_SECRETS.items():
        if name not in secrets:
            raise pgbr.DrError(f"the evaluated program has no Secret {name!r} with database URLs")
        data = plain(secrets[name].inputs).get("stringData") or {}
        urls.update({k: str(data[k]) for k in keys})
    return urls


def _url_host(url: str) -> str:
    return url.rsplit("@", 1)[1].split(":", 1)[0].split("/", 1)[0]


def _password_urn(resources: list[Any], role: str, cluster: str) -> str:
    """The URN of the generated password behind `role`'s credential Secret of `cluster`."""
    from components.workloads.postgres import credentials_secret_name

    secret = _by_name(resources, SECRET_TYPE).get(credentials_secret_name(role, cluster))
    types = {r.urn: r.type for r in resources}
    found = [u for u in (secret.dependencies if secret else ()) if types.get(u) == PASSWORD_TYPE]
    if len(found) != 1:
        raise pgbr.DrError(f"no generated password behind the {role} credentials of {cluster}")
    return str(found[0])


def check_urls(resources: list[Any], cluster: str) -> None:
    """Every database URL of the platform names `cluster`'s Service and uses `cluster`'s own credentials."""
    from components.workloads.postgres import service_host

    secrets = _by_name(resources, SECRET_TYPE)
    for key, url in database_urls(resources).items():
        if _url_host(url) != service_host(cluster):
            raise pgbr.DrError(f"{key} points at {_url_host(url)}, not {service_host(cluster)}")
        holder = next(s for name, keys in URL_SECRETS.items() if key in keys for s in [secrets[name]])
        if _password_urn(resources, URL_ROLES[key], cluster) not in holder.dependencies:
            raise pgbr.DrError(f"{key} does not use the {URL_ROLES[key]} credentials of {cluster}")


def _nothing_deleted(before: list[Any], after: list[Any], what: str) -> None:
    gone = sorted({r.urn for r in before} - {r.urn for r in after})
    if gone:
        raise pgbr.DrError(f"{what} would delete {len(gone)} resources, e.g. {gone[0]}")


def _clusters_unchanged(before: list[Any], after: list[Any], what: str) -> None:
    from maestro.offline.mockrun import plain

    new = {r.urn: plain(r.inputs) for r in postgres_clusters(after)}
    for r in postgres_clusters(before):
        if new.get(r.urn) != plain(r.inputs):
            raise pgbr.DrError(f"{what} would change the live postgresql object {r.urn.rsplit('::', 1)[-1]}")


def verify_plan(
    before: list[Any],
    after: list[Any],
    *,
    cluster: str,
    uid: str,
    timestamp: str,
    bucket: str,
    clone_name: str,
) -> None:
    """The evaluated program adds the clone `clone_name` of `cluster` at `timestamp` reading `bucket`, next to the
    live cluster: the live objects and the platform's database URLs stay as they were, and nothing is deleted."""
    from maestro.offline.mockrun import plain

    clones = [r for r in postgres_clusters(after) if "clone" in (plain(r.inputs).get("spec") or {})]
    if len(clones) != 1:
        raise pgbr.DrError(f"expected one postgresql clone in the evaluated program, found {len(clones)}")
    inputs = plain(clones[0].inputs)
    if inputs["metadata"]["name"] != clone_name:
        raise pgbr.DrError(f"the clone is named {inputs['metadata']['name']}, not {clone_name}")
    spec = inputs["spec"]
    if spec["clone"] != {"cluster": cluster, "uid": uid, "timestamp": timestamp}:
        raise pgbr.DrError(f"the clone spec is {spec['clone']}, not {cluster}/{uid} at {timestamp}")
    buckets = {e["value"] for e in spec.get("env", []) if re.fullmatch(r"CLONE_WAL_(S3|GS|AZ)_BUCKET", e["name"])}
    if buckets != {bucket}:
        raise pgbr.DrError(f"the clone reads from {sorted(buckets)}, not the stack's backup bucket {bucket!r}")
    if len(postgres_clusters(after)) != len(postgres_clusters(before)) + 1:
        raise pgbr.DrError("the clone does not come next to the live cluster (expected one more postgresql object)")
    _clusters_unchanged(before, after, "the restore config")
    if database_urls(before) != database_urls(after):
        raise pgbr.DrError("the restore config would move the platform's database URLs; that is --switch's step")
    _nothing_deleted(before, after, "the restore config")


def verify_switch(before: list[Any], after: list[Any], *, clone_name: str) -> None:
    """The evaluated program points the API's and MLflow's URLs at the clone, with the clone's credentials, changes
    no postgresql object, and deletes nothing."""
    if clone_name not in _by_name(after, POSTGRESQL_TYPE):
        raise pgbr.DrError(f"the evaluated program has no postgresql object {clone_name} to switch to")
    check_urls(after, clone_name)
    _clusters_unchanged(before, after, "the switch")
    if len(postgres_clusters(after)) != len(postgres_clusters(before)):
        raise pgbr.DrError("the switch would add or remove a postgresql object")
    _nothing_deleted(before, after, "the switch")


def _settings(path: Path) -> tuple[Any, dict[str, str], list[str]]:
    """The validated settings of a stack file, its raw config and its secret keys."""
    from components.config import ConfigError, load_config
    from maestro.offline import mockrun

    config, secret_keys = mockrun.load_stack_config(path)
    raw = {k.split(":", 1)[1]: _json(v) for k, v in config.items() if k.startswith("maestro:")}
    try:
        settings = load_config(raw, region=config.get("aws:region"))
    except ConfigError as e:
        raise pgbr.DrError(f"{path}: {e}") from None
    return settings, config, secret_keys


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
    """Write and verify the `maestro:restore` config of `stack` (a clone next to the live cluster); returns the
    stack file written."""
    from components.config import ConfigError, load_restore
    from components.workloads.postgres import CLUSTER
    from maestro.offline import mockrun

    path = stack_file or mockrun.stack_file_for(stack)
    with step(1, 4, f"reading the outputs of {stack}"):
        outputs = read_outputs(stack, outputs_file)
        bucket = outputs.get("backupBucket")
        if not bucket:
            raise pgbr.DrError(f"stack {stack!r} exports no backupBucket: there is nothing to restore from")
        source_cluster = str(outputs.get("postgresCluster") or CLUSTER)
        source_uid = source_uid or outputs.get("postgresClusterUid") or None
    with step(2, 4, "checking the target against the backup retention"):
        settings, config, secret_keys = _settings(path)
        when = check_stack_target(
            target, retention_days=settings.postgres.backup_retention_days, now=now or datetime.now(UTC)
        )
        if settings.restore is not None:
            old = settings.restore
            raise pgbr.RefusedError(
                f"{path} already holds {RESTORE_KEY} (clone {old.cluster_name} of {old.source_cluster} at "
                f"{old.timestamp}); the operator ignores clone on an object that exists, so another restore under "
                f"that name would restore nothing. Retire the old clone first (docs/dr.md)"
            )
        if not source_uid:
            raise pgbr.DrError(
                "--source-uid is needed (WAL-G's backup path contains it; this stack exports no postgresClusterUid): "
                f"kubectl -n maestro-data get postgresql {source_cluster} -o jsonpath='{{.metadata.uid}}'"
            )
        try:
            clone = load_restore(
                {"sourceCluster": source_cluster, "sourceUid": source_uid, "timestamp": when.isoformat()}
            )
        except ConfigError as e:
            raise pgbr.DrError(str(e)) from None
    restore = {
        "sourceCluster": clone.source_cluster,
        "sourceUid": clone.source_uid,
        "timestamp": clone.timestamp,
        "clusterName": clone.cluster_name,
    }
    console.print(
        f"equivalent: pulumi config set --stack {stack} {RESTORE_KEY} {shlex.quote(json.dumps(restore))} --path=false"
    )
    confirm(
        f"Write {RESTORE_KEY} into {path}? `pulumi up` then creates {clone.cluster_name} next to {source_cluster}, "
        f"as its clone at {clone.timestamp}; the platform keeps using {settings_cluster(settings)} until "
        f"`maestro restore --stack {stack} --switch`",
        yes,
    )
    original = path.read_text()
    with step(3, 4, f"writing {RESTORE_KEY} into {path}"):
        edited = with_restore(original, restore)
        check_only_changed(original, edited, RESTORE_KEY)
        path.write_text(edited)
    with step(4, 4, "evaluating the program under mocks and checking the clone"), _reverting(path, original):
        before, after = _evaluate(stack, path, config, secret_keys)
        verify_plan(
            before,
            after,
            cluster=source_cluster,
            uid=clone.source_uid,
            timestamp=clone.timestamp,
            bucket=bucket,
            clone_name=clone.cluster_name,
        )
    console.print(
        f"next: commit {path}, run `pulumi up -s {stack}`, wait for {clone.cluster_name} to run and check its data; "
        f"then `maestro restore --stack {stack} --switch` points the platform at it"
    )
    return path


@contextlib.contextmanager
def _reverting(path: Path, original: str) -> Iterator[None]:
    """Put the stack file back as it was when anything in the block fails: never leave an unverified config."""
    try:
        yield
    except Exception:
        path.write_text(original)
        raise


def _evaluate(stack: str, path: Path, config: dict[str, str], secret_keys: list[str]) -> tuple[Any, Any]:
    """The program under mocks before (the old config) and after (the edited stack file)."""
    from maestro.offline import mockrun

    before = mockrun.evaluate_config(stack, config, secret_keys=secret_keys)
    return before, mockrun.evaluate_stack(stack, stack_file=path)


def settings_cluster(settings: Any) -> str:
    """The cluster the platform's URLs point at under these settings."""
    from components.workloads.postgres import CLUSTER

    if settings.postgres.endpoint == "restore" and settings.restore is not None:
        return str(settings.restore.cluster_name)
    return CLUSTER


def switch_stack(stack: str, *, stack_file: Path | None, yes: bool, confirm: ConfirmFn, step: StepFn) -> Path:
    """Point the platform's database endpoint at the restore clone (`maestro:postgres.endpoint: restore`) and verify
    it; returns the stack file (unchanged when it already points there)."""
    from components.workloads.postgres import CLUSTER
    from maestro.offline import mockrun

    path = stack_file or mockrun.stack_file_for(stack)
    with step(1, 3, f"reading {path}"):
        settings, config, secret_keys = _settings(path)
        if settings.restore is None:
            raise pgbr.RefusedError(
                f"{path} holds no {RESTORE_KEY}: there is no clone to switch to; run "
                f"`maestro restore --stack {stack} --to <time>` first and verify the clone"
            )
        clone = settings.restore.cluster_name
    if settings.postgres.endpoint == "restore":
        console.print(f"{path}: {POSTGRES_KEY}.endpoint is already restore ({clone}); nothing to do")
        return path
    console.print(f"equivalent: pulumi config set --stack {stack} --path '{POSTGRES_KEY}.endpoint' restore")
    confirm(
        f"Point the API's and MLflow's database URLs at {clone} instead of {CLUSTER} (write {POSTGRES_KEY}.endpoint: "
        f"restore into {path})? `pulumi up` then restarts them on {clone}; {CLUSTER} keeps running, untouched",
        yes,
    )
    original = path.read_text()
    with step(2, 3, f"writing {POSTGRES_KEY}.endpoint: restore into {path}"):
        edited = with_endpoint(original, "restore")
        check_only_changed(original, edited, POSTGRES_KEY, "endpoint")
        path.write_text(edited)
    with step(3, 3, "evaluating the program under mocks and checking the database URLs"), _reverting(path, original):
        before, after = _evaluate(stack, path, config, secret_keys)
        verify_switch(before, after, clone_name=clone)
    console.print(
        f"next: commit {path}, run `pulumi up -s {stack}`, check the API's /readyz; {CLUSTER} stays as it is "
        f"(switch back with endpoint: primary; retiring it is manual, docs/dr.md)"
    )
    return path


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
