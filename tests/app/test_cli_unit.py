"""The CLI refuses to start on placeholder or weak secrets outside dev, naming the setting (no servers)."""

import pytest
from maestro_api.cli import app
from typer.testing import CliRunner

GOOD_DB = "postgresql+psycopg://maestro_app:Str0ng-Passw0rd-xyz@127.0.0.1:1/maestro"


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["bootstrap", "--tenant", "acme"], ["audit", "verify"]])
def test_prod_refuses_the_placeholder_pepper(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setenv("MAESTRO_ENVIRONMENT", "prod")
    monkeypatch.setenv("MAESTRO_DATABASE_URL", GOOD_DB)
    monkeypatch.delenv("MAESTRO_API_KEY_PEPPER", raising=False)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "refusing to start: MAESTRO_API_KEY_PEPPER" in result.output


def test_prod_refuses_a_weak_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAESTRO_ENVIRONMENT", "prod")
    monkeypatch.setenv("MAESTRO_API_KEY_PEPPER", "k" * 48)
    monkeypatch.setenv("MAESTRO_DATABASE_URL", "postgresql+psycopg://maestro_app:password@db/maestro")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "MAESTRO_DATABASE_URL" in result.output


def test_prod_refuses_to_serve_as_the_table_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAESTRO_ENVIRONMENT", "prod")
    monkeypatch.setenv("MAESTRO_API_KEY_PEPPER", "k" * 48)
    monkeypatch.setenv("MAESTRO_DATABASE_URL", GOOD_DB)
    monkeypatch.setenv("MAESTRO_DATABASE_OWNER_URL", GOOD_DB)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "table owner" in result.output


def test_bootstrap_validates_tier_and_role() -> None:
    assert CliRunner().invoke(app, ["bootstrap", "--tenant", "a", "--tier", "gold"]).exit_code == 2
    assert CliRunner().invoke(app, ["bootstrap", "--tenant", "a", "--role", "root"]).exit_code == 2
