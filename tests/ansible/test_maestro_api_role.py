"""The maestro_api role as it renders for the example inventory: the serving process's environment holds no owner
credentials and every setting the API requires in prod (audit key, metrics token, the edge as trusted proxy); the
migrations run as a one-shot unit of their own, as their own account, with the owner's URL in a file only root
reads; the role refuses weak or unsafe secrets. The rendered files are read back by the API's own settings classes."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from maestro_api.core.config import MigrationSettings, Settings

from tests.ansible.roles import ROLES, render
from tests.ansible.test_admin_configs import PLATFORM, SECRETS

APP = ("app1",)
TEMPLATES: dict[str, str | tuple[str, tuple[str, ...]]] = {
    "api.env": ("maestro_api/templates/maestro-api.env.j2", APP),
    "migrate.env": ("maestro_api/templates/maestro-api-migrate.env.j2", APP),
    "api.service": ("maestro_api/templates/maestro-api.service.j2", APP),
    "migrate.service": ("maestro_api/templates/maestro-api-migrate.service.j2", APP),
    "admin": ("maestro_api/templates/maestro-api-admin.j2", APP),
}
ROLE_VARS = {**SECRETS, **PLATFORM}


@pytest.fixture(scope="module")
def app1(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    result = render(
        tmp_path_factory.mktemp("api"),
        roles=("maestro_api",),
        templates=TEMPLATES,
        extra_vars=ROLE_VARS,
        checks=("maestro_api/assert.yml",),
        hosts=APP,
    )
    assert result.returncode == 0, result.output[-4000:]
    return result.files["app1"]


def environment(text: str) -> dict[str, str]:
    """An environment file as systemd (and the admin wrapper's `.`) reads these: NAME='value' lines."""
    pairs = (shlex.split(line)[0].split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_the_service_environment_holds_no_owner_credentials(app1: dict[str, str]) -> None:
    env = environment(app1["api.env"])
    assert "MAESTRO_DATABASE_OWNER_URL" not in env
    assert SECRETS["maestro_api_db_owner_password"] not in app1["api.env"]
    assert env["MAESTRO_AUDIT_KEY"] == SECRETS["maestro_api_audit_key"]
    assert env["MAESTRO_METRICS_TOKEN"] == SECRETS["maestro_api_metrics_token"]
    assert env["MAESTRO_TRUSTED_PROXIES"] == '["10.20.0.31"]'  # the edge host of the example inventory


def test_the_migrations_get_the_owner_url_and_nothing_of_the_service(app1: dict[str, str]) -> None:
    env = environment(app1["migrate.env"])
    assert set(env) == {"MAESTRO_ENVIRONMENT", "MAESTRO_DATABASE_OWNER_URL", "MAESTRO_DATABASE_SERVICE_ROLE"}
    assert f"maestro_owner:{SECRETS['maestro_api_db_owner_password']}@" in env["MAESTRO_DATABASE_OWNER_URL"]
    assert env["MAESTRO_DATABASE_SERVICE_ROLE"] == "maestro_api"


def test_the_api_reads_its_files_in_prod(app1: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in environment(app1["api.env"]).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "prod" and settings.is_trusted_proxy("10.20.0.31")
    for name in list(environment(app1["api.env"])):
        monkeypatch.delenv(name)
    for name, value in environment(app1["migrate.env"]).items():
        monkeypatch.setenv(name, value)
    assert MigrationSettings().service_role == "maestro_api"  # type: ignore[call-arg]


def unit(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_the_migrations_are_a_one_shot_unit_of_their_own_account(app1: dict[str, str]) -> None:
    migrate, api = unit(app1["migrate.service"]), unit(app1["api.service"])
    assert migrate["Type"] == ["oneshot"] and migrate["User"] == ["maestro-api-migrate"]
    assert migrate["EnvironmentFile"] == ["/etc/maestro-api/migrate.env"]
    assert migrate["ExecStart"] == ["/opt/maestro-api/venv/bin/maestro-api migrate"]
    assert api["User"] == ["maestro-api"] and api["EnvironmentFile"] == ["/etc/maestro-api/maestro-api.env"]
    assert "maestro-api-migrate.service" in api["After"][0]
    # The admin wrapper (bootstrap, audit verify) runs with the service's settings, never the migrations'.
    assert "/etc/maestro-api/maestro-api.env" in app1["admin"] and "migrate.env" not in app1["admin"]


def test_only_root_reads_the_owner_url_and_the_role_migrates_once_before_restarting() -> None:
    tasks: list[dict[str, Any]] = yaml.safe_load((ROLES / "maestro_api" / "tasks" / "service.yml").read_text())
    migrate_env = next(
        t for t in tasks if t.get("ansible.builtin.template", {}).get("dest") == "/etc/maestro-api/migrate.env"
    )
    template = migrate_env["ansible.builtin.template"]
    assert (template["owner"], template["group"], template["mode"]) == ("root", "root", "0600")
    handlers: list[dict[str, Any]] = yaml.safe_load((ROLES / "maestro_api" / "handlers" / "main.yml").read_text())
    topic = [h["name"] for h in handlers if h.get("listen") == "Migrate and restart maestro-api"]
    assert topic.index("Run the migrations") < topic.index("Restart the API")
    run = next(h for h in handlers if h["name"] == "Run the migrations")
    assert run["ansible.builtin.systemd_service"]["name"] == "maestro-api-migrate" and run["run_once"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("maestro_api_audit_key", "short"),
        ("maestro_api_metrics_token", "m" * 31),
        ("maestro_api_audit_key", "quote'" + "q" * 40),
        ("maestro_api_metrics_token", 'json"' + "j" * 40),
        ("maestro_api_audit_retired_keys", ["retired'" + "r" * 40]),
    ],
)
def test_the_role_refuses_weak_or_unsafe_secrets(tmp_path: Path, name: str, value: object) -> None:
    result = render(
        tmp_path,
        roles=("maestro_api",),
        templates={},
        extra_vars={**ROLE_VARS, name: value},
        checks=("maestro_api/assert.yml",),
        hosts=APP,
    )
    assert result.returncode != 0 and "maestro_api_audit_key and maestro_api_metrics_token" in result.output
