"""The service's settings: one pydantic-settings class, read from ``MAESTRO_*`` environment variables.

This module is the only place that reads configuration; everything else receives a ``Settings`` instance.
Outside ``dev`` the service refuses placeholder or weak secrets and names the offending setting.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

Environment = Literal["dev", "staging", "prod"]
Tier = Literal["free", "standard", "premium", "enterprise"]
TIERS: tuple[Tier, ...] = ("free", "standard", "premium", "enterprise")

# Values that mark a secret as "not set by the operator": refused outside dev.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "dev-pepper-change-me", "secret", "password", "maestro"})
MIN_SECRET_LENGTH = 32


class TierLimits(BaseModel):
    """Sliding-window request limits of one tier, in requests per ``window_seconds``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_key: int = Field(gt=0, description="Requests one API key or OIDC subject may make per window.")
    per_tenant: int = Field(gt=0, description="Requests all principals of one tenant may make together per window.")
    window_seconds: int = Field(default=60, gt=0, le=3600, description="Length of the sliding window.")


DEFAULT_RATE_LIMITS: dict[str, TierLimits] = {
    "free": TierLimits(per_key=60, per_tenant=120),
    "standard": TierLimits(per_key=600, per_tenant=1_200),
    "premium": TierLimits(per_key=3_000, per_tenant=6_000),
    "enterprise": TierLimits(per_key=12_000, per_tenant=24_000),
}


class Settings(BaseSettings):
    """Every knob of the Maestro API. Environment variables are the field names upper-cased with ``MAESTRO_``."""

    model_config = SettingsConfigDict(env_prefix="MAESTRO_", extra="ignore", frozen=True)

    environment: Environment = Field(
        default="dev", description="dev, staging or prod. Outside dev, placeholder or weak secrets are refused."
    )
    service_name: str = Field(default="maestro-api", description="Service name in traces and logs.")

    # --- database -------------------------------------------------------------------------------------------
    database_url: str = Field(
        default="postgresql+psycopg://maestro_app:maestro@127.0.0.1:5432/maestro",
        description="SQLAlchemy URL (psycopg 3) of the service role. It must not own the tables (RLS is FORCED "
        "and audit rows are INSERT-only for it).",
    )
    database_owner_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the table owner, used only by `maestro-api migrate` and `audit verify`. "
        "Defaults to database_url.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200, description="Connections kept open per process.")
    database_max_overflow: int = Field(default=10, ge=0, le=200, description="Extra connections under bursts.")
    database_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="How long a request waits for a pooled connection before 503."
    )

    # --- redis ----------------------------------------------------------------------------------------------
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis for rate limits and caches.")
    redis_timeout_seconds: float = Field(
        default=0.5, gt=0, le=10, description="Connect and command timeout; a dead Redis costs at most this long."
    )

    # --- MLflow / registry (used by maestro_api.registry) ---------------------------------------------------
    mlflow_url: str = Field(default="http://127.0.0.1:5000", description="Base URL of the MLflow tracking server.")
    mlflow_timeout_seconds: float = Field(default=5.0, ge=0.1, le=30, description="Timeout of one MLflow request.")
    mlflow_token: SecretStr | None = Field(
        default=None,
        description="Bearer token sent on every call to MLflow, which refuses requests without it (the "
        "maestro-auth MLflow app reads the same value as MAESTRO_MLFLOW_TOKEN). At least 32 characters outside dev "
        "when set; unset sends none (an MLflow without the app).",
    )
    artifact_root: str = Field(
        default="file:///var/lib/maestro/artifacts",
        description="Root URI below which each tenant's artifacts live, e.g. s3://maestro-artifacts/tenants.",
    )
    registry_cache_ttl_seconds: float = Field(
        default=30.0, ge=1, le=3600, description="How long registry reads are cached in Redis."
    )
    mlflow_proxy_max_artifact_bytes: int = Field(
        default=5 * 1024**3,
        ge=1_048_576,
        le=1024**4,
        description="Largest artifact streamed through the MLflow client proxy (/mlflow), upload or download. "
        "The artifact upload route is exempt from max_body_bytes and enforces this instead: a larger "
        "Content-Length is refused at once with 413, a chunked body is counted as it streams and cut off.",
    )

    # --- authentication -------------------------------------------------------------------------------------
    api_key_pepper: SecretStr = Field(
        default=SecretStr("dev-pepper-change-me"),
        description="Secret HMAC-SHA256 key for API key hashes (at least 32 characters outside dev). Rotating it "
        "invalidates every key.",
    )
    auth_cache_ttl_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="In-process cache of verified API keys: a revoked key keeps working in an already-warm "
        "process for at most this long. 0 disables the cache.",
    )
    oidc_issuer: str | None = Field(default=None, description="Expected `iss` of OIDC JWTs; unset disables OIDC.")
    oidc_audience: str | None = Field(default=None, description="Expected `aud` of OIDC JWTs.")
    oidc_jwks_url: str | None = Field(default=None, description="URL of the issuer's JWKS (public signing keys).")
    oidc_algorithms: list[str] = Field(
        default=["RS256", "ES256"],
        description="Accepted JWT algorithms. Only asymmetric ones are allowed (no `none`, no HS*).",
    )
    oidc_tenant_claim: str = Field(default="maestro_tenant", description="Claim holding the tenant's name.")
    oidc_role_claim: str = Field(default="maestro_role", description="Claim holding the Maestro role.")
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    oidc_jwks_cache_seconds: int = Field(default=300, ge=0, le=86400, description="How long JWKS keys are cached.")

    # --- rate limits ----------------------------------------------------------------------------------------
    rate_limit_failure_mode: Literal["open", "closed"] = Field(
        default="open",
        description="When Redis cannot be reached: `open` lets requests through (and counts "
        "maestro_rate_limit_backend_errors_total); `closed` answers 503.",
    )
    rate_limits: dict[str, TierLimits] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="Per-tier limits (JSON): {tier: {per_key, per_tenant, window_seconds}} for all four tiers.",
    )

    # --- HTTP -----------------------------------------------------------------------------------------------
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=104_857_600,
        description="Largest request body, except on the MLflow artifact upload route "
        "(mlflow_proxy_max_artifact_bytes).",
    )
    hsts_max_age_seconds: int = Field(default=63_072_000, ge=0, description="Strict-Transport-Security max-age.")

    # --- telemetry ------------------------------------------------------------------------------------------
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint, e.g. http://jaeger:4318/v1/traces; unset: no traces."
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_requests: bool = Field(default=False, description="Log one JSON line per request (costs throughput).")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        missing = [t for t in TIERS if t not in self.rate_limits]
        if missing or set(self.rate_limits) - set(TIERS):
            raise ValueError(f"MAESTRO_RATE_LIMITS must define exactly the tiers {', '.join(TIERS)}")
        bad_algs = [a for a in self.oidc_algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if bad_algs:
            raise ValueError(f"MAESTRO_OIDC_ALGORITHMS: {bad_algs} not allowed (no `none`, no HMAC with public keys)")
        if self.oidc_issuer and not (self.oidc_audience and self.oidc_jwks_url):
            raise ValueError("MAESTRO_OIDC_ISSUER is set: MAESTRO_OIDC_AUDIENCE and MAESTRO_OIDC_JWKS_URL are required")
        if self.environment != "dev":
            self._refuse_weak_secrets()
        return self

    def _refuse_weak_secrets(self) -> None:
        pepper = self.api_key_pepper.get_secret_value()
        if pepper.lower() in PLACEHOLDER_SECRETS or "change-me" in pepper or len(pepper) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"MAESTRO_API_KEY_PEPPER is a placeholder or shorter than {MIN_SECRET_LENGTH} characters "
                f"(environment={self.environment})"
            )
        if self.mlflow_token is not None:
            token = self.mlflow_token.get_secret_value()
            if token.lower() in PLACEHOLDER_SECRETS or "change-me" in token or len(token) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"MAESTRO_MLFLOW_TOKEN is a placeholder or shorter than {MIN_SECRET_LENGTH} characters "
                    f"(environment={self.environment})"
                )
        for name in ("database_url", "database_owner_url", "redis_url"):
            value = getattr(self, name)
            if value is None:
                continue
            password = make_url(value).password if name.startswith("database") else _redis_password(value)
            if name == "redis_url" and password is None:
                continue  # Redis without AUTH is refused by the deployment, not here (unix sockets, TLS certs).
            if password is None or str(password).lower() in PLACEHOLDER_SECRETS or len(str(password)) < 12:
                raise ValueError(
                    f"MAESTRO_{name.upper()} has a placeholder or weak password (environment={self.environment})"
                )

    @property
    def owner_url(self) -> str:
        return self.database_owner_url or self.database_url

    @property
    def service_role(self) -> str:
        """The PostgreSQL role the service connects as (granted privileges by the migrations)."""
        user = make_url(self.database_url).username
        if not user:
            raise ValueError("MAESTRO_DATABASE_URL names no user")
        return user

    # --- the MLflow web UI (maestro_api.ui, docs/ui.md) -----------------------------------------------------
    ui_origin: str | None = Field(
        default=None,
        description="Public origin of the MLflow web UI, e.g. https://maestro.example.com: the UI is served at "
        "<origin>/mlflow/ and the identity provider sends users back to <origin>/mlflow/oauth/callback. It is the "
        "only Origin a state-changing UI request may carry. Unset disables the UI (its paths answer 404).",
    )
    ui_oidc_client_id: str | None = Field(
        default=None,
        description="The UI's OIDC client id at MAESTRO_OIDC_ISSUER (authorization code flow with PKCE). Its ID "
        "tokens must carry the tenant and role claims. Required with ui_origin.",
    )
    ui_oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The UI client's secret, sent to the token endpoint with HTTP basic authentication; unset: a "
        "public client (PKCE alone).",
    )
    ui_oidc_scopes: str = Field(
        default="openid profile email",
        description="Scopes asked for at sign-in (must include openid; add the one that releases the tenant and "
        "role claims if the provider needs it).",
    )
    ui_session_lifetime_seconds: int = Field(
        default=28_800,
        ge=300,
        le=604_800,
        description="A UI session ends this long after sign-in, however active.",
    )
    ui_session_idle_seconds: int = Field(
        default=1_800,
        ge=60,
        le=86_400,
        description="A UI session ends after this long without a request (at most the lifetime).",
    )

    @model_validator(mode="after")
    def _check_ui(self) -> Settings:
        if self.ui_origin is None:
            return self
        from urllib.parse import urlsplit

        origin = urlsplit(self.ui_origin)
        if origin.scheme not in ("https", "http") or not origin.hostname or origin.path or origin.query:
            raise ValueError("MAESTRO_UI_ORIGIN must be scheme://host[:port], with no path")
        if origin.scheme != "https" and self.environment != "dev":
            raise ValueError(f"MAESTRO_UI_ORIGIN must be https (environment={self.environment})")
        if not (self.oidc_issuer and self.ui_oidc_client_id):
            raise ValueError("MAESTRO_UI_ORIGIN is set: MAESTRO_OIDC_ISSUER and MAESTRO_UI_OIDC_CLIENT_ID are required")
        if "openid" not in self.ui_oidc_scopes.split():
            raise ValueError("MAESTRO_UI_OIDC_SCOPES must include openid")
        if self.ui_session_idle_seconds > self.ui_session_lifetime_seconds:
            raise ValueError("MAESTRO_UI_SESSION_IDLE_SECONDS must not exceed MAESTRO_UI_SESSION_LIFETIME_SECONDS")
        return self


def _redis_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).password


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
