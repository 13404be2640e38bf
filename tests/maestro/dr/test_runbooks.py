"""Every command quoted in runbooks/*.md is exercised: CLI lines parse, playbooks and tags exist (fast tests);
SQL runs on a real PostgreSQL and pgBackRest options exist (servers)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import typer.core
import typer.main
import yaml

from maestro.cli import app
from tests.maestro.dr.runbook_commands import LAB_ONLY, PAGES, RUNBOOKS, Command, all_commands, commands, psql_sql

ANSIBLE = RUNBOOKS.parent / "ansible"
KNOWN = {"maestro", "ansible-playbook", "psql", "pgbackrest", *LAB_ONLY}


def _parse_cli(argv: list[str]) -> None:
    """Parse like the shell would run it, without running the command."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = group.make_context("maestro", list(argv[1:]), resilient_parsing=False)
    sub = group.get_command(ctx, argv[1])
    assert sub is not None, f"no command {argv[1]!r}"
    sub.make_context(argv[1], list(argv[2:]), parent=ctx)


def _tags(playbook: Path) -> set[str]:
    tags: set[str] = set()
    for play in yaml.safe_load(playbook.read_text()):
        for task in play.get("tasks", []):
            tags.update(task.get("tags", []))
    return tags


@pytest.mark.parametrize("page", PAGES)
def test_page_has_confirm_verify_and_says_what_is_exercised(page: str) -> None:
    text = (RUNBOOKS / page).read_text()
    assert text.startswith("# ")
    assert "## Confirm" in text and "## Verify" in text
    assert "Exercised:" in text and "drill" in text
    assert commands(page), f"{page} quotes no command"


def test_every_quoted_program_is_known() -> None:
    unknown = {c.program for c in all_commands()} - KNOWN
    assert not unknown, f"runbooks quote {unknown}: exercise them in tests/maestro/dr/test_runbooks.py"


@pytest.mark.parametrize("cmd", [c for c in all_commands() if c.program == "maestro"], ids=lambda c: " ".join(c.argv))
def test_maestro_lines_parse(cmd: Command) -> None:
    _parse_cli(cmd.argv)


def test_a_wrong_maestro_line_does_not_parse() -> None:
    # Typer vendors click: its usage errors are TyperExceptions with a usage message.
    with pytest.raises(typer.TyperException, match="No such option"):
        _parse_cli(["maestro", "restore", "--inventory", "x", "--when", "latest"])
    with pytest.raises(typer.TyperException, match="Missing"):
        _parse_cli(["maestro", "backups"])  # --inventory is required


@pytest.mark.parametrize(
    "cmd", [c for c in all_commands() if c.program == "ansible-playbook"], ids=lambda c: " ".join(c.argv)
)
def test_playbooks_and_tags_exist(cmd: Command) -> None:
    books = [a for a in cmd.argv if a.endswith(".yml") and a.startswith("ansible/") and "inventories" not in a]
    assert len(books) == 1, cmd.argv
    path = RUNBOOKS.parent / books[0]
    assert path.is_file(), f"{cmd.page}: {books[0]} does not exist"
    if "--tags" in cmd.argv:
        wanted = set(cmd.argv[cmd.argv.index("--tags") + 1].split(","))
        assert wanted <= _tags(path), f"{cmd.page}: {books[0]} has no tags {wanted - _tags(path)}"


def test_restore_playbook_tags_match_the_cli() -> None:
    assert {"restore", "verify"} <= _tags(ANSIBLE / "restore.yml")
    assert {"backup", "info"} <= _tags(ANSIBLE / "backup.yml")


@pytest.mark.servers
@pytest.mark.parametrize("cmd", [c for c in all_commands() if c.program == "psql"], ids=lambda c: " ".join(c.argv))
def test_psql_queries_run(cmd: Command, pg_server, pg_database: str) -> None:  # type: ignore[no-untyped-def]
    import psycopg
    from maestro_api.models import Base
    from sqlalchemy import create_engine

    sql, db = psql_sql(cmd.argv)
    dbname = pg_database
    if db == "maestro":  # the API's schema, from its models
        engine = create_engine(pg_server.url(dbname))
        Base.metadata.create_all(engine)
        engine.dispose()
    with psycopg.connect(
        host=pg_server.host, port=pg_server.port, user=pg_server.superuser, password=pg_server.password, dbname=dbname
    ) as conn:
        conn.execute(sql).fetchall()
        conn.rollback()


@pytest.mark.servers
@pytest.mark.parametrize(
    "cmd", [c for c in all_commands() if c.program == "pgbackrest"], ids=lambda c: " ".join(c.argv)
)
def test_pgbackrest_commands_and_options_exist(cmd: Command) -> None:
    words = [a for a in cmd.argv[1:] if not a.startswith("-")]
    assert len(words) == 1, cmd.argv
    for opt in [re.sub(r"=.*", "", a[2:]) for a in cmd.argv[1:] if a.startswith("--")]:
        done = subprocess.run(["pgbackrest", "help", words[0], opt], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{cmd.page}: pgbackrest {words[0]} --{opt}: {done.stdout}{done.stderr}"
    bad = subprocess.run(["pgbackrest", "help", words[0], "no-such-option"], capture_output=True, check=False)
    assert bad.returncode != 0
