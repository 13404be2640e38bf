"""Disaster-recovery commands of the operator CLI: `maestro backup|backups|restore|drill` (runbooks/ use them).

Bare metal and the lab (`--inventory I`): the commands drive ansible/backup.yml and ansible/restore.yml. The
pgBackRest command lines come from `maestro.dr.pgbackrest` (the same builder the loopback drill in
tests/maestro/dr/ exercises) and reach the playbooks as extra vars, so every refusal happens here, before anything runs:
- a target time outside the restorable window exits 2 and runs nothing but the read-only repository query;
- an in-place restore asks for confirmation, or needs `--yes` (with no terminal to ask on, it refuses);
- the old data directory is moved aside (renamed with a timestamp), never deleted, and the playbook refuses when
  the filesystem cannot hold both.

Kubernetes clouds (`--stack S`): see `maestro.dr.kubernetes`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from maestro.ansible import PlaybookError, run_playbook
from maestro.dr import pgbackrest as pgbr

console = Console(stderr=True)
out = Console()

PlaybookRunner = Callable[[str, Path, Mapping[str, Any], Sequence[str]], None]
# Tests replace this with a fake that records the calls.
playbook_runner: PlaybookRunner = run_playbook
# What a command reports and exits with (each carries its `exit_code`), instead of a traceback.
Refusal = (pgbr.DrError, PlaybookError)


@contextmanager
def step(number: int, total: int, what: str) -> Iterator[None]:
    """One step of a command: a spinner while it runs, then its outcome and duration."""
    started = time.monotonic()
    with console.status(f"[{number}/{total}] {what} ..."):
        try:
            yield
        except BaseException:
            console.print(f"[red][{number}/{total}] {what}: failed[/red]")
            raise
    console.print(f"[green][{number}/{total}] {what}: done[/green] ({time.monotonic() - started:.1f} s)")


def _fail(err: pgbr.DrError | PlaybookError) -> typer.Exit:
    console.print(f"[red]refused:[/red] {err}" if err.exit_code == 2 else f"[red]error:[/red] {err}")
    return typer.Exit(err.exit_code)


@dataclass(frozen=True)
class Repository:
    """What ansible/backup.yml (tag `info`) read on a database member."""

    stanza: str
    data_dir: str
    config: str | None
    """pgBackRest configuration file when not the default /etc/pgbackrest.conf."""
    backups: list[pgbr.Backup]
    window: pgbr.Window | None


def read_repository(inventory: Path, group: str = "postgres") -> Repository:
    """Backups and the restorable window, read by ansible/backup.yml (tag `info`) on a member of `group`."""
    with tempfile.TemporaryDirectory(prefix="maestro-dr-") as tmp:
        dest = Path(tmp)
        playbook_runner("backup.yml", inventory, {"backup_info_dest": str(dest), "backup_group": group}, ["info"])
        meta = json.loads((dest / "meta.json").read_text())
        found = pgbr.parse_info((dest / "info.json").read_text(), meta["stanza"])
        wal_end = pgbr.archive_end((dest / "archive.json").read_text())
    window = pgbr.restorable_window(found, wal_end)
    return Repository(meta["stanza"], meta["data_dir"], meta.get("config"), found, window)


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Go on with `--yes` or an interactive yes; refuse (exit 2) otherwise, and when there is no terminal to ask."""
    if yes:
        return
    if not _stdin_is_tty():
        raise pgbr.RefusedError(f"{question} needs --yes when there is no terminal to confirm on")
    if not typer.confirm(question, default=False):
        raise pgbr.RefusedError("not confirmed; nothing was changed")


InventoryOpt = Annotated[Path, typer.Option("--inventory", "-i", help="Ansible inventory of the cluster.")]


def backup(
    inventory: InventoryOpt,
    backup_type: Annotated[str, typer.Option("--type", help="full, diff or incr.")] = "full",
) -> None:
    """Run a backup now on the Patroni primary (ansible/backup.yml), then list the repository."""
    if backup_type not in ("full", "diff", "incr"):
        raise _fail(pgbr.DrError(f"--type {backup_type!r}: must be full, diff or incr"))
    try:
        with step(1, 2, f"{backup_type} backup on the primary"):
            playbook_runner("backup.yml", inventory, {"backup_type": backup_type}, ["backup"])
        with step(2, 2, "reading the repository"):
            repo = read_repository(inventory)
    except Refusal as e:
        raise _fail(e) from None
    _print_backups(repo.backups, repo.window)


def backups(inventory: InventoryOpt) -> None:
    """List the backups and the restorable time window (oldest backup end .. newest archived WAL)."""
    try:
        with step(1, 1, "reading the repository"):
            repo = read_repository(inventory)
    except Refusal as e:
        raise _fail(e) from None
    _print_backups(repo.backups, repo.window)


def _print_backups(found: Sequence[pgbr.Backup], window: pgbr.Window | None) -> None:
    table = Table("label", "type", "start (UTC)", "stop (UTC)", "size")
    for b in found:
        table.add_row(
            b.label, b.type, f"{b.start:%Y-%m-%d %H:%M:%S}", f"{b.stop:%Y-%m-%d %H:%M:%S}", f"{b.size / 2**20:.1f} MiB"
        )
    out.print(table)
    out.print(f"restorable window: {window}" if window else "restorable window: none (no backup)")


def restore_bare_metal(
    inventory: Path,
    target: pgbr.Target,
    mode: Literal["in-place", "new"],
    *,
    yes: bool,
    new_inventory: Path | None,
    new_group: str,
    now: datetime,
) -> float:
    """Check, confirm, restore; returns the seconds the restore playbook took."""
    with step(1, 3, "reading the repository and checking the target"):
        repo = read_repository(inventory)
        pgbr.check_target(target, repo.window)
        chosen = pgbr.backup_for(target, repo.backups)
    console.print(f"restoring from backup {chosen.label} to {target}; window {repo.window}")
    if mode == "in-place":
        confirm(
            f"Stop Patroni on every member of {inventory} and restore it in place to {target}? "
            "(old data directories are moved aside, not deleted)",
            yes,
        )
    extra: dict[str, Any] = {
        "restore_mode": mode,
        "restore_target": str(target),
        # The same builder the loopback drill runs; a copy on other hosts never archives into this stanza.
        "restore_argv": pgbr.restore_command(
            repo.stanza, target, config=repo.config, pg_path=repo.data_dir, archive_off=mode == "new"
        ),
        "restore_data_dir": repo.data_dir,
        "restore_min_free_bytes": pgbr.room_needed(chosen.size),
        "restore_aside_path": pgbr.aside_path(repo.data_dir, now),
    }
    run_inventory = inventory
    if mode == "new":
        if new_group == "postgres" and new_inventory in (None, inventory):
            raise pgbr.RefusedError(
                "--target new must restore into other hosts than the cluster's own `postgres` group"
            )
        extra["restore_group"] = new_group
        run_inventory = new_inventory or inventory
    started = time.monotonic()
    with step(2, 3, f"restore ({mode}) with ansible/restore.yml"):
        playbook_runner("restore.yml", run_inventory, extra, ["restore"])
    elapsed = time.monotonic() - started
    with step(3, 3, "verifying the cluster"):
        playbook_runner("restore.yml", run_inventory, extra, ["verify"])
    return elapsed


def restore(
    to: Annotated[
        str | None, typer.Option("--to", help="`latest` or an ISO 8601 time with offset (not with --switch).")
    ] = None,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Bare metal: the inventory.")] = None,
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Kubernetes: the Pulumi stack.")] = None,
    target: Annotated[str, typer.Option("--target", help="in-place, or new (other hosts).")] = "in-place",
    new_inventory: Annotated[Path | None, typer.Option(help="--target new: inventory of the fresh hosts.")] = None,
    new_group: Annotated[
        str, typer.Option(help="--target new: inventory group of the fresh hosts.")
    ] = "postgres_restore",
    source_uid: Annotated[
        str | None,
        typer.Option(help="--stack: UID of the source postgresql object (default: the stack's postgresClusterUid)."),
    ] = None,
    outputs: Annotated[Path | None, typer.Option(help="--stack: `pulumi stack output --json` saved to a file.")] = None,
    stack_file: Annotated[
        Path | None, typer.Option(help="--stack: the stack file to write (stacks/Pulumi.S.yaml).")
    ] = None,
    switch: Annotated[
        bool,
        typer.Option(
            "--switch",
            help="--stack: point the platform's database endpoint at the verified restore clone "
            "(writes maestro:postgres.endpoint: restore).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before dangerous steps.")] = False,
) -> None:
    """Point-in-time restore of the Patroni cluster (--inventory) or of the platform's database (--stack).

    With --stack the restore is a clone next to the live cluster; --switch then points the platform at it.
    """
    if (inventory is None) == (stack is None):
        raise _fail(pgbr.DrError("give exactly one of --inventory (bare metal) or --stack (Kubernetes)"))
    if switch and (stack is None or to is not None):
        raise _fail(
            pgbr.DrError("--switch goes with --stack and without --to: it switches to the clone already written")
        )
    if to is None and not switch:
        raise _fail(pgbr.DrError("--to is needed: `latest` or an ISO 8601 time with offset"))
    try:
        if switch:
            from maestro.dr import kubernetes

            assert stack is not None
            kubernetes.switch_stack(stack, stack_file=stack_file, yes=yes, confirm=confirm, step=step)
            return
        assert to is not None
        parsed = pgbr.parse_target(to)
        if stack is not None:
            from maestro.dr import kubernetes

            kubernetes.restore_stack(
                stack,
                parsed,
                source_uid=source_uid,
                outputs_file=outputs,
                stack_file=stack_file,
                yes=yes,
                confirm=confirm,
                step=step,
            )
            return
        assert inventory is not None
        if target not in ("in-place", "new"):
            raise pgbr.DrError(f"--target {target!r}: must be in-place or new")
        mode: Literal["in-place", "new"] = "new" if target == "new" else "in-place"
        elapsed = restore_bare_metal(
            inventory, parsed, mode, yes=yes, new_inventory=new_inventory, new_group=new_group, now=datetime.now(UTC)
        )
    except Refusal as e:
        raise _fail(e) from None
    out.print(f"restored to {parsed} in {elapsed:.0f} s ({target})")


def drill(
    inventory: InventoryOpt,
    new_inventory: Annotated[
        Path | None, typer.Option(help="Inventory of the fresh hosts (default: the same).")
    ] = None,
    new_group: Annotated[str, typer.Option(help="Inventory group of the fresh hosts.")] = "postgres_restore",
    to: Annotated[str, typer.Option("--to", help="`latest` or an ISO 8601 time with offset.")] = pgbr.LATEST,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Leave the restored copy running (127.0.0.1 of the drill host) to inspect it."),
    ] = False,
) -> None:
    """Restore the latest state into fresh hosts (never the live cluster), verify it, and record the drill."""
    try:
        parsed = pgbr.parse_target(to)
        elapsed = restore_bare_metal(
            inventory, parsed, "new", yes=True, new_inventory=new_inventory, new_group=new_group, now=datetime.now(UTC)
        )
        playbook_runner(
            "drill.yml",
            new_inventory or inventory,
            {"restore_group": new_group, "drill_rto_seconds": round(elapsed), "drill_keep_running": keep},
            [],
        )
    except Refusal as e:
        raise _fail(e) from None
    out.print(f"drill passed: restored to {parsed} into {new_group} in {elapsed:.0f} s")
    if keep:
        out.print(
            f"the copy runs on 127.0.0.1 of the first {new_group} host; stop it (as postgres, `pg_ctl -D <its data "
            "directory> -m fast stop`) before the next drill, which refuses to restore over a running server"
        )


def register(app: typer.Typer) -> None:
    """Add the DR commands to the operator CLI."""
    for fn in (backup, backups, restore, drill):
        app.command()(fn)
