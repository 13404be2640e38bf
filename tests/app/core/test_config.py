"""Settings: defaults, and refusal of placeholder/weak secrets outside dev, naming the setting."""

import pytest
from maestro_api.core.config import Settings
from pydantic import ValidationError

STRONG = "p" * 40
GOOD_DB = "postgresql+psycopg://maestro_app:Str0ng-Passw0rd-xyz@db:5432/maestro"


def test_dev_accepts_the_placeholder_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.environment == "dev" and s.rate_limit_failure_mode == "open"
    assert s.mlflow_timeout_seconds == 5 and s.registry_cache_ttl_seconds == 30
    assert s.service_role == "maestro_app"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_outside_dev_a_placeholder_pepper_is_refused_by_name(env: str) -> None:
    with pytest.raises(ValidationError, match="MAESTRO_API_KEY_PEPPER"):
        Settings(environment=env, database_url=GOOD_DB)


def test_prod_refuses_a_short_pepper() -> None:
    with pytest.raises(ValidationError, match="MAESTRO_API_KEY_PEPPER"):
        Settings(environment="prod", api_key_pepper="short-but-real", database_url=GOOD_DB)


def test_prod_refuses_a_weak_database_password_by_name() -> None:
    with pytest.raises(ValidationError, match="MAESTRO_DATABASE_URL"):
        Settings(
            environment="prod",
            api_key_pepper=STRONG,
            database_url="postgresql+psycopg://maestro_app:maestro@db/maestro",
        )
    with pytest.raises(ValidationError, match="MAESTRO_DATABASE_OWNER_URL"):
        Settings(
            environment="prod",
            api_key_pepper=STRONG,
            database_url=GOOD_DB,
            database_owner_url="postgresql+psycopg://owner:change-me@db/maestro",
        )


def test_prod_accepts_strong_secrets() -> None:
    s = Settings(environment="prod", api_key_pepper=STRONG, database_url=GOOD_DB)
    assert s.environment == "prod"


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
