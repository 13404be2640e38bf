"""Settings: defaults, and refusal of placeholder/weak secrets outside dev, naming the setting; the migration's own
settings (the only ones that read the owner's URL); audit keys and their ids; trusted proxies."""

from datetime import UTC, datetime

import pytest
from maestro_api.core.config import MigrationSettings, Settings, derive_audit_key
from pydantic import ValidationError

from tests.app.conftest import GOOD_DB, PROD

OWNER_DB = "postgresql+psycopg://maestro_owner:Str0ng-0wner-Passw0rd@db:5432/maestro"


def test_dev_accepts_the_placeholder_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.environment == "dev" and s.rate_limit_failure_mode == "open"
    assert s.mlflow_timeout_seconds == 5 and s.registry_cache_ttl_seconds == 30
    assert s.service_role == "maestro_app"
    assert s.metrics_token is None  # /metrics stays open in dev when unset


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_outside_dev_a_placeholder_pepper_is_refused_by_name(env: str) -> None:
    with pytest.raises(ValidationError, match="MAESTRO_API_KEY_PEPPER"):
        Settings(**{**PROD, "environment": env, "api_key_pepper": "dev-pepper-change-me"})


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("api_key_pepper", "short-but-real"),
        ("audit_key", "dev-audit-key-change-me"),
        ("audit_key", "x" * 31),
        ("metrics_token", "change-me"),
        ("metrics_token", None),
        ("audit_retired_keys", ["old-but-short"]),
        ("database_url", "postgresql+psycopg://maestro_app:maestro@db/maestro"),
    ],
)
def test_prod_refuses_a_weak_or_missing_secret_by_name(setting: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"MAESTRO_{setting.upper()}") as caught:
        Settings(**{**PROD, setting: value})
    if isinstance(value, str):  # what the CLI prints: the message, never the value
        assert value not in caught.value.errors()[0]["msg"]


def test_prod_accepts_strong_secrets() -> None:
    s = Settings(**PROD)
    assert s.environment == "prod" and s.metrics_token is not None


def test_serving_settings_do_not_know_the_owner_url() -> None:
    s = Settings(**PROD, database_owner_url=OWNER_DB)  # type: ignore[call-arg]
    assert "database_owner_url" not in s.model_dump() and OWNER_DB not in repr(s.model_dump())


def test_migration_settings_take_the_owner_url_and_the_service_role() -> None:
    m = MigrationSettings(environment="prod", database_owner_url=OWNER_DB, database_service_role="maestro_api")
    assert (m.owner_url, m.service_role) == (OWNER_DB, "maestro_api")
    # The service role may come from the service URL's user (only its name is read).
    assert MigrationSettings(environment="prod", database_owner_url=OWNER_DB, database_url=GOOD_DB).service_role == (
        "maestro_app"
    )


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"database_service_role": "maestro_app"}, "database_owner_url"),
        (
            {"database_owner_url": "postgresql+psycopg://o:change-me@db/m", "database_service_role": "a"},
            "MAESTRO_DATABASE_OWNER_URL has a placeholder",
        ),
        ({"database_owner_url": OWNER_DB}, "MAESTRO_DATABASE_SERVICE_ROLE"),
        ({"database_owner_url": OWNER_DB, "database_service_role": "x; drop"}, "database_service_role"),
    ],
)
def test_migration_settings_refusals(values: dict[str, str], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        MigrationSettings(environment="prod", **values)


def test_audit_key_ids_derive_from_the_keys_and_reveal_nothing() -> None:
    a, b = derive_audit_key("a" * 40), derive_audit_key("b" * 40)
    assert a.id == derive_audit_key("a" * 40).id and a.id != b.id and len(a.id) == 16
    assert "a" * 8 not in a.id
    s = Settings(**{**PROD, "audit_key": "b" * 40, "audit_retired_keys": ["a" * 40]})
    assert s.audit_signing_key == b and set(s.audit_keys) == {a.id, b.id}


def test_the_legacy_cutoff_needs_a_time_zone() -> None:
    with pytest.raises(ValidationError, match="audit_legacy_cutoff"):
        Settings(audit_legacy_cutoff="2026-12-01T00:00:00")
    s = Settings(audit_legacy_cutoff="2026-12-01T00:00:00Z")
    assert s.audit_legacy_cutoff == datetime(2026, 12, 1, tzinfo=UTC)


def test_trusted_proxies_are_networks() -> None:
    s = Settings(trusted_proxies=["10.20.0.10", "10.30.0.0/24"])
    assert s.is_trusted_proxy("10.20.0.10") and s.is_trusted_proxy("10.30.0.99")
    assert not s.is_trusted_proxy("10.20.0.11") and not s.is_trusted_proxy("::1") and not s.is_trusted_proxy("-")
    assert not Settings().is_trusted_proxy("127.0.0.1")
    with pytest.raises(ValidationError):
        Settings(trusted_proxies=["not-a-network"])


@pytest.mark.parametrize("alg", ["none", "HS256", "hs512"])
def test_symmetric_and_none_algorithms_are_refused(alg: str) -> None:
    with pytest.raises(ValidationError, match="MAESTRO_OIDC_ALGORITHMS"):
        Settings(oidc_algorithms=["RS256", alg])


def test_oidc_issuer_needs_audience_and_jwks() -> None:
    with pytest.raises(ValidationError, match="MAESTRO_OIDC_AUDIENCE"):
        Settings(oidc_issuer="https://idp.example")
    assert Settings(oidc_issuer="https://i", oidc_audience="a", oidc_jwks_url="https://i/jwks").oidc_issuer


def test_bounds_of_the_registry_settings() -> None:
    with pytest.raises(ValidationError):
        Settings(mlflow_timeout_seconds=31)
    with pytest.raises(ValidationError):
        Settings(registry_cache_ttl_seconds=0.5)


def test_rate_limits_must_name_all_four_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAESTRO_RATE_LIMITS", '{"free": {"per_key": 1, "per_tenant": 2}}')
    with pytest.raises(ValidationError, match="MAESTRO_RATE_LIMITS"):
        Settings()


def test_settings_are_read_from_maestro_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAESTRO_RATE_LIMIT_FAILURE_MODE", "closed")
    monkeypatch.setenv("MAESTRO_MLFLOW_URL", "http://mlflow:5000")
    monkeypatch.setenv("MAESTRO_ARTIFACT_ROOT", "s3://maestro-artifacts/tenants")
    s = Settings()
    assert (s.rate_limit_failure_mode, s.mlflow_url, s.artifact_root) == (
        "closed",
        "http://mlflow:5000",
        "s3://maestro-artifacts/tenants",
    )
