"""The DR CLI's rules, both outcomes each, with the playbooks replaced by a recorder (no servers, no hosts)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maestro.cli import app
from maestro.dr import commands as dr
from maestro.dr import pgbackrest as pgbr
from tests import dr_loopback
from tests.maestro.dr.conftest import DATA_DIR, STANZA, FakeAnsible, archive_json, info_json

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
runner = CliRunner()


def _repo(fake: FakeAnsible) -> None:
    """One full backup 01:00-01:05 (2 GiB), WAL archived until 09:00."""
    fake.info = info_json([("20261127-010000F", T0, T0 + timedelta(minutes=5), 2 * 2**30)])
    fake.archive = archive_json([T0 + timedelta(hours=h) for h in range(9)])


def test_parse_target() -> None:
    assert pgbr.parse_target("latest").is_latest
    assert pgbr.parse_target("2026-11-27T03:00:00Z").time == T0 + timedelta(hours=2)
    assert pgbr.parse_target("2026-11-27T04:00:00+01:00").time == T0 + timedelta(hours=2)
    with pytest.raises(pgbr.DrError, match="UTC offset"):
        pgbr.parse_target("2026-11-27T03:00:00")
    with pytest.raises(pgbr.DrError, match="ISO 8601"):
        pgbr.parse_target("yesterday")


def test_window_is_oldest_backup_end_to_newest_archived_segment() -> None:
    backups = pgbr.parse_info(info_json([("b1", T0, T0 + timedelta(minutes=5), 10)]), STANZA)
    end = pgbr.archive_end(archive_json([T0, T0 + timedelta(hours=8)]))
    window = pgbr.restorable_window(backups, end)
    # Repository times are whole seconds: the newest segment arrived before the end of its second.
    assert window == pgbr.Window(T0 + timedelta(minutes=5), T0 + timedelta(hours=8, seconds=1))
    pgbr.check_target(pgbr.Target(T0 + timedelta(hours=1)), window)
    pgbr.check_target(pgbr.Target(T0 + timedelta(hours=8, milliseconds=500)), window)
    pgbr.check_target(pgbr.Target(None), window)
    for outside in (T0 + timedelta(minutes=4), T0 + timedelta(hours=8, seconds=1, milliseconds=1)):
        with pytest.raises(pgbr.OutsideWindowError, match="outside the restorable window"):
            pgbr.check_target(pgbr.Target(outside), window)
    with pytest.raises(pgbr.OutsideWindowError, match="no usable backup"):
        pgbr.check_target(pgbr.Target(None), pgbr.restorable_window([], end))
    with pytest.raises(pgbr.DrError, match="no stanza"):
        pgbr.parse_info(info_json([]), "other")


def test_restore_command_for_time_and_latest() -> None:
    at = pgbr.restore_command("s", pgbr.Target(T0 + timedelta(microseconds=5)), pg_path="/d")
    assert at == [
        "pgbackrest",
        "--stanza=s",
        "--pg1-path=/d",
        "--type=time",
        "--target=2026-11-27 01:00:00.000005+00",
        "--target-action=promote",
        "restore",
    ]
    latest = pgbr.restore_command("s", pgbr.Target(None), config="/c", archive_off=True)
    assert latest == ["pgbackrest", "--config=/c", "--stanza=s", "--type=default", "--archive-mode=off", "restore"]


def test_room_and_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pgbr.check_room(restore_bytes=100, free_bytes=120)
    with pytest.raises(pgbr.NoRoomError, match="GiB free"):
        pgbr.check_room(restore_bytes=100, free_bytes=119)
    assert pgbr.aside_path("/var/lib/postgresql/15/x", T0) == "/var/lib/postgresql/15/x.before-restore-20261127T010000Z"

    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 0, 10))  # type: ignore[attr-defined]
    with pytest.raises(pgbr.NoRoomError):
        dr_loopback.prepare_data_dir(data, restore_bytes=100, now=T0)
    assert (data / "PG_VERSION").exists()  # refused: nothing moved
    monkeypatch.undo()
    aside = dr_loopback.prepare_data_dir(data, restore_bytes=100, now=T0)
    assert aside is not None and (Path(aside) / "PG_VERSION").read_text() == "15\n"
    assert data.is_dir() and not any(data.iterdir())
    if os.geteuid() == 0:
        assert data.owner() == "postgres"


def test_backups_lists_the_window(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    result = runner.invoke(app, ["backups", "--inventory", "inv/hosts.yml"])
    assert result.exit_code == 0, result.output
    assert "20261127-010000F" in result.output
    assert "2026-11-27T01:05:00+00:00 .. 2026-11-27T09:00:01+00:00" in result.output  # whole-second repo times
    assert fake_ansible.playbooks() == [("backup.yml", ["info"])]


def test_backup_runs_then_lists(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    result = runner.invoke(app, ["backup", "--inventory", "inv/hosts.yml"])
    assert result.exit_code == 0, result.output
    assert fake_ansible.playbooks() == [("backup.yml", ["backup"]), ("backup.yml", ["info"])]
    assert fake_ansible.calls[0][2] == {"backup_type": "full"}
    bad = runner.invoke(app, ["backup", "--inventory", "inv/hosts.yml", "--type", "weekly"])
    assert bad.exit_code == 1 and len(fake_ansible.calls) == 2


def test_restore_outside_the_window_runs_nothing(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    for when in ("2026-11-27T01:04:00Z", "2026-11-27T09:00:02Z", "2026-11-26T00:00:00Z"):
        result = runner.invoke(app, ["restore", "--inventory", "i.yml", "--to", when, "--yes"])
        assert result.exit_code == 2, result.output
        assert "outside the restorable window" in result.output
    assert {p for p, _ in fake_ansible.playbooks()} == {"backup.yml"}  # only the read-only query ran


def test_in_place_restore_needs_confirmation(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    result = runner.invoke(app, ["restore", "--inventory", "i.yml", "--to", "2026-11-27T03:00:00Z"])
    assert result.exit_code == 2, result.output
    assert "needs --yes" in result.output
    assert "restore.yml" not in {p for p, _ in fake_ansible.playbooks()}


@pytest.mark.parametrize(("answer", "code"), [("n\n", 2), ("y\n", 0)])
def test_in_place_restore_asks_on_a_terminal(
    fake_ansible: FakeAnsible, monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    _repo(fake_ansible)
    monkeypatch.setattr(dr, "_stdin_is_tty", lambda: True)
    result = runner.invoke(app, ["restore", "--inventory", "i.yml", "--to", "2026-11-27T03:00:00Z"], input=answer)
    assert result.exit_code == code, result.output
    assert ("restore.yml" in {p for p, _ in fake_ansible.playbooks()}) is (code == 0)


def test_in_place_restore_with_yes_runs_the_playbook(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    result = runner.invoke(app, ["restore", "--inventory", "i.yml", "--to", "2026-11-27T03:00:00Z", "--yes"])
    assert result.exit_code == 0, result.output
    assert fake_ansible.playbooks() == [
        ("backup.yml", ["info"]),
        ("restore.yml", ["restore"]),
        ("restore.yml", ["verify"]),
    ]
    extra = fake_ansible.calls[1][2]
    target = pgbr.Target(T0 + timedelta(hours=2))
    assert extra["restore_argv"] == pgbr.restore_command(STANZA, target, pg_path=DATA_DIR)
    assert extra["restore_mode"] == "in-place" and "restore_group" not in extra
    assert extra["restore_aside_path"].startswith(DATA_DIR + ".before-restore-")
    assert extra["restore_min_free_bytes"] == pgbr.room_needed(2 * 2**30)


def test_restore_into_new_hosts(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    refused = runner.invoke(
        app, ["restore", "--inventory", "i.yml", "--to", "latest", "--target", "new", "--new-group", "postgres"]
    )
    assert refused.exit_code == 2 and "other hosts" in refused.output
    assert "restore.yml" not in {p for p, _ in fake_ansible.playbooks()}
    result = runner.invoke(
        app, ["restore", "--inventory", "i.yml", "--to", "latest", "--target", "new", "--new-inventory", "dr.yml"]
    )
    assert result.exit_code == 0, result.output  # no confirmation: the live cluster is not touched
    playbook, inventory, extra, tags = fake_ansible.calls[-2]
    assert (playbook, str(inventory), tags) == ("restore.yml", "dr.yml", ["restore"])
    assert extra["restore_group"] == "postgres_restore"
    assert extra["restore_argv"][-2:] == ["--archive-mode=off", "restore"]


def test_restore_needs_exactly_one_of_inventory_or_stack(fake_ansible: FakeAnsible) -> None:
    for args in ([], ["--inventory", "i.yml", "--stack", "dev-aws"]):
        result = runner.invoke(app, ["restore", "--to", "latest", *args])
        assert result.exit_code == 1 and "exactly one" in result.output
    bad = runner.invoke(app, ["restore", "--inventory", "i.yml", "--to", "latest", "--target", "elsewhere"])
    assert bad.exit_code == 1 and "in-place or new" in bad.output
    assert fake_ansible.calls == []


def test_drill_restores_into_new_hosts_and_records(fake_ansible: FakeAnsible) -> None:
    _repo(fake_ansible)
    result = runner.invoke(app, ["drill", "--inventory", "i.yml"])
    assert result.exit_code == 0, result.output
    assert [p for p, _ in fake_ansible.playbooks()] == ["backup.yml", "restore.yml", "restore.yml", "drill.yml"]
    assert fake_ansible.calls[1][2]["restore_mode"] == "new"
    assert fake_ansible.calls[3][2]["restore_group"] == "postgres_restore"
