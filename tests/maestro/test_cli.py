"""The one operator CLI: the sub-commands the make targets and the runbooks call exist, and bad input is refused."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from maestro.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        ["backup"],
        ["backups"],
        ["restore"],
        ["drill"],
        ["lab", "up"],
        ["lab", "down"],
        ["lab", "status"],
        ["lab", "start-host"],
        ["lab", "stop-host"],
        ["lab", "wheelhouses"],
        ["preview"],
        ["policy", "check"],
        ["policy", "generate"],
        ["policy", "info"],
    ],
    ids=" ".join,
)
def test_sub_command_exists(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], prog_name="maestro")
    assert result.exit_code == 0, result.output
    assert "Usage: maestro " + " ".join(command) in " ".join(result.output.split())


def test_an_unknown_sub_command_is_refused() -> None:
    result = runner.invoke(app, ["lab", "explode"])
    assert result.exit_code == 2
    assert "No such command 'explode'" in result.output


def test_the_s3_server_is_internal_to_the_lab() -> None:
    listed = runner.invoke(app, ["lab", "--help"]).output
    assert "wheelhouses" in listed and "s3-server" not in listed


def test_start_host_refuses_a_host_the_lab_does_not_have_and_names_the_hosts() -> None:
    result = runner.invoke(app, ["lab", "start-host", "db9"])
    assert result.exit_code == 2
    assert "no lab host named 'db9'" in result.output and "db1" in result.output


def test_version_is_the_installed_package_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == version("maestro")
