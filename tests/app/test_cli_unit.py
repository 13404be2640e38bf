"""The CLI refuses to start on placeholder or weak secrets outside dev, naming the setting; `serve` refuses an
environment holding the table owner's URL; `migrate` is the only command that takes it (no servers)."""

import pytest
from maestro_api.cli import app
from typer.testing import CliRunner

from tests.app.conftest import PROD

OWNER_DB = "postgresql+psycopg://maestro_owner:Str0ng-0wner-Passw0rd@127.0.0.1:1/maestro"


def prod_env(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    """The environment of a prod process with strong secrets, except ``overrides`` (MAESTRO_<NAME>: value)."""
    for name, value in PROD.items():
        monkeypatch.setenv(f"MAESTRO_{name.upper()}", str(value))
    monkeypatch.delenv("MAESTRO_DATABASE_OWNER_URL", raising=False)
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    "command", [["serve"], ["bootstrap", "--tenant", "acme"], ["audit", "verify"], ["audit", "seal"]]
)
def test_prod_refuses_the_placeholder_pepper(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    prod_env(monkeypatch)
    monkeypatch.delenv("MAESTRO_API_KEY_PEPPER")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "refusing to start: MAESTRO_API_KEY_PEPPER" in result.output


@pytest.mark.parametrize("name", ["MAESTRO_AUDIT_KEY", "MAESTRO_METRICS_TOKEN"])
def test_prod_refuses_to_serve_without_the_audit_key_or_the_metrics_token(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    prod_env(monkeypatch)
    monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and f"refusing to start: {name}" in result.output


def test_prod_refuses_a_weak_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    prod_env(monkeypatch, MAESTRO_DATABASE_URL="postgresql+psycopg://maestro_app:password@db/maestro")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "MAESTRO_DATABASE_URL" in result.output


def test_serve_refuses_an_environment_with_the_owner_url_without_reading_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A value no parser would accept: serve must refuse on the variable's presence alone, never parse it.
    prod_env(monkeypatch, MAESTRO_DATABASE_OWNER_URL="::not a url, never read::")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "refusing to start: MAESTRO_DATABASE_OWNER_URL is in the environment" in result.output
    assert "never read" not in result.output


def test_migrate_needs_the_owner_url_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    prod_env(monkeypatch)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2 and "MAESTRO_DATABASE_OWNER_URL: Field required" in result.output
    monkeypatch.setenv("MAESTRO_DATABASE_OWNER_URL", "postgresql+psycopg://maestro_owner:change-me@db/maestro")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2 and "MAESTRO_DATABASE_OWNER_URL has a placeholder" in result.output


def test_migrate_does_not_need_the_services_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its environment is the owner's URL and the service role only; it fails on the unreachable database, not on a
    # missing pepper, audit key or metrics token.
    for name in [n for n in PROD if n != "environment"]:
        monkeypatch.delenv(f"MAESTRO_{name.upper()}", raising=False)
    monkeypatch.setenv("MAESTRO_ENVIRONMENT", "prod")
    monkeypatch.setenv("MAESTRO_DATABASE_OWNER_URL", OWNER_DB)
    monkeypatch.setenv("MAESTRO_DATABASE_SERVICE_ROLE", "maestro_app")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code != 0 and "refusing to start" not in result.output
    assert result.exception is not None and "Connection refused" in str(result.exception)


def test_seal_needs_the_legacy_cutoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAESTRO_AUDIT_LEGACY_CUTOFF", raising=False)
    result = CliRunner().invoke(app, ["audit", "seal"])
    assert result.exit_code == 2 and "MAESTRO_AUDIT_LEGACY_CUTOFF" in result.output


def test_bootstrap_validates_tier_and_role() -> None:
    assert CliRunner().invoke(app, ["bootstrap", "--tenant", "a", "--tier", "gold"]).exit_code == 2
    assert CliRunner().invoke(app, ["bootstrap", "--tenant", "a", "--role", "root"]).exit_code == 2
