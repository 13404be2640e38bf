"""`python -m bench`: every benchmark the bench-* make targets run is a sub-command, with its options."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bench.__main__ import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["dr"], "--write-seconds"),
        (["waf"], "--concurrency"),
        (["proxy"], "--requests"),
        (["lab"], "--skip-cold"),
        (["lab-dr"], "--writes-seconds"),
        (["api", "run"], "--api-workers"),
        (["api", "profile"], "--requests"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_benchmark_is_a_sub_command(command: list[str], option: str) -> None:
    result = runner.invoke(app, [*command, "--help"], prog_name="python -m bench")
    assert result.exit_code == 0, result.output
    assert option in result.output


def test_an_unknown_benchmark_is_refused() -> None:
    result = runner.invoke(app, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output
