"""The service's settings: one pydantic-settings class, read from ``MAESTRO_*`` environment variables.

This module is the only place that reads configuration; everything else receives a ``Settings`` instance.
Outside ``dev`` the service refuses placeholder or weak secrets and names the offending setting.

Two classes, two processes: ``Settings`` is what the serving process (and the service's own CLI commands) read;
``MigrationSettings`` is what ``maestro-api migrate`` reads. Only the latter knows ``MAESTRO_DATABASE_OWNER_URL``,
so the serving process never holds the credentials that could disable RLS or the audit log's trigger.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from ipaddress import ip_address
from typing import Literal, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

Environment = Literal["dev", "staging", "prod"]
Tier = Literal["free", "standard", "premium", "enterprise"]
TIERS: tuple[Tier, ...] = ("free", "standard", "premium", "enterprise")

# Values that mark a secret as "not set by the operator": refused outside dev.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "dev-pepper-change-me", "secret", "password", "maestro"})
MIN_SECRET_LENGTH = 32
MIN_DATABASE_PASSWORD_LENGTH = 12


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


class AuditKey(NamedTuple):
    """A key of the audit chain: its id (stored with every event it signs) and the secret itself."""

    id: str
    secret: bytes


def derive_audit_key(secret: str) -> AuditKey:
    """The key for ``secret``; its id is derived from it (an HMAC of a fixed label: it reveals nothing of the key),
    so a key and its id cannot be mismatched by configuration."""
    raw = secret.encode()
    return AuditKey(hmac.new(raw, b"maestro audit key id", hashlib.sha256).hexdigest()[:16], raw)


class _MaestroSettings(BaseSettings):
    """What every process reads: the prefix and the environment, and the weak-secret checks."""

    model_config = SettingsConfigDict(env_prefix="MAESTRO_", extra="ignore", frozen=True)

    environment: Environment = Field(
        default="dev", description="dev, staging or prod. Outside dev, placeholder or weak secrets are refused."
    )

    def _refuse_weak_secret(self, name: str, secret: SecretStr | None) -> None:
        if secret is None:
            return
        value = secret.get_secret_value()
        if value.lower() in PLACEHOLDER_SECRETS or "change-me" in value or len(value) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"MAESTRO_{name.upper()} is a placeholder or shorter than {MIN_SECRET_LENGTH} characters "
                f"(environment={self.environment})"
            )

    def _refuse_weak_database_password(self, name: str, url: str | None) -> None:
        if url is not None and _weak_password(make_url(url).password):
            raise ValueError(
                f"MAESTRO_{name.upper()} has a placeholder or weak password (environment={self.environment})"
            )


def _weak_password(password: str | None) -> bool:
    return password is None or password.lower() in PLACEHOLDER_SECRETS or len(password) < MIN_DATABASE_PASSWORD_LENGTH


class Settings(_MaestroSettings):
    """Every knob of the Maestro API. Environment variables are the field names upper-cased with ``MAESTRO_``."""

    service_name: str = Field(default="maestro-api", description="Service name in traces and logs.")

    # --- database -------------------------------------------------------------------------------------------
    database_url: str = Field(
        default="postgresql+psycopg://maestro_app:maestro@127.0.0.1:5432/maestro",
        description="SQLAlchemy URL (psycopg 3) of the service role. It must not own the tables (RLS is FORCED "
        "and audit rows are INSERT-only for it): outside dev `serve` refuses to start as the owner, a superuser or "
        "a role that bypasses RLS, and refuses to start at all when MAESTRO_DATABASE_OWNER_URL is in its "
        "environment.",
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
        description="In-process cache of verified credentials (API keys, and the directory entry of an OIDC "
        "subject): a revoked key, a disabled or demoted user, a suspended tenant keep their old access in an "
        "already-warm process for at most this long. 0 disables the cache.",
    )
    auth_lookup_concurrency: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Database lookups at once of API keys this process has not seen valid (a first use, or a "
        "guessed key), on a connection pool of their own, apart from the requests' pool.",
    )
    auth_revalidation_concurrency: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Database lookups at once that re-check a key this process has seen valid (its cache entry "
        "expired), on the same pool as auth_lookup_concurrency but never waiting behind those.",
    )
    auth_lookup_wait_seconds: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="How long a key lookup waits for a free slot before the request is answered 503 with "
        "Retry-After (a flood of guessed keys is refused fast rather than queued).",
    )
    auth_failure_limit: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="Failed authentications one client address may cause per auth_failure_window_seconds "
        "(counted in Redis across processes). Past it, its credentials this process has not seen valid are "
        "answered 429 without a database lookup.",
    )
    auth_failure_window_seconds: int = Field(default=60, ge=1, le=3600, description="Window of auth_failure_limit.")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses (JSON list of IPs or CIDRs) of proxies whose X-Real-IP names the client (the edge "
        "hosts). A request from elsewhere is attributed to its peer address. Used by auth_failure_limit and the "
        "audit log's client address.",
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

    # --- audit ----------------------------------------------------------------------------------------------
    audit_key: SecretStr = Field(
        default=SecretStr("dev-audit-key-change-me"),
        description="Secret HMAC-SHA256 key of the audit chain (at least 32 characters outside dev). The database "
        "never sees it, so a database owner who rewrites events cannot recompute a chain `audit verify` accepts. "
        "Each event stores the key's id (derived from the key).",
    )
    audit_retired_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Earlier audit keys (JSON list) that signed events still in the log; read by `audit verify` "
        "only. Keep a key here as long as events it signed are kept.",
    )
    audit_legacy_cutoff: AwareDatetime | None = Field(
        default=None,
        description="Only on a deployment whose log began before events were keyed: chains may pass from plain "
        "SHA-256 events to keyed ones only at a keyed event older than this (RFC 3339) time. Read by `audit verify` "
        "and `audit seal`. Unset: a plain event anywhere is a finding.",
    )

    # --- metrics --------------------------------------------------------------------------------------------
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires (Prometheus sends it). Required outside dev (at least 32 "
        "characters); in dev, unset leaves /metrics open.",
    )

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
        self._refuse_weak_secret("api_key_pepper", self.api_key_pepper)
        self._refuse_weak_secret("mlflow_token", self.mlflow_token)
        self._refuse_weak_secret("audit_key", self.audit_key)
        for retired in self.audit_retired_keys:
            self._refuse_weak_secret("audit_retired_keys", retired)
        if self.metrics_token is None:
            raise ValueError(f"MAESTRO_METRICS_TOKEN is required (environment={self.environment})")
        self._refuse_weak_secret("metrics_token", self.metrics_token)
        self._refuse_weak_database_password("database_url", self.database_url)
        password = _redis_password(self.redis_url)
        # Redis without AUTH is refused by the deployment, not here (unix sockets, TLS client certificates).
        if password is not None and _weak_password(password):
            raise ValueError(f"MAESTRO_REDIS_URL has a placeholder or weak password (environment={self.environment})")

    @property
    def audit_signing_key(self) -> AuditKey:
        """The key new audit events are signed with."""
        return derive_audit_key(self.audit_key.get_secret_value())

    @property
    def audit_keys(self) -> dict[str, AuditKey]:
        """Every key ``audit verify`` knows, by id: the current one and the retired ones."""
        keys = [self.audit_key, *self.audit_retired_keys]
        return {k.id: k for k in (derive_audit_key(s.get_secret_value()) for s in keys)}

    def is_trusted_proxy(self, address: str) -> bool:
        """Whether ``address`` (a peer's IP) is one of ``trusted_proxies``."""
        if not self.trusted_proxies:
            return False
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    @property
    def service_role(self) -> str:
        """The PostgreSQL role the service connects as (granted privileges by the migrations)."""
        user = make_url(self.database_url).username
        if not user:
            raise ValueError("MAESTRO_DATABASE_URL names no user")
        return user

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


class MigrationSettings(_MaestroSettings):
    """What ``maestro-api migrate`` reads: the table owner's URL and the service role to grant to. Nothing else
    reads MAESTRO_DATABASE_OWNER_URL."""

    database_owner_url: SecretStr = Field(
        description="SQLAlchemy URL of the table owner, read only by `maestro-api migrate` (its own one-shot step; "
        "the serving process refuses to start with it in its environment outside dev)."
    )
    database_service_role: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The service role the migrations grant privileges to. Defaults to the user of database_url.",
    )
    database_url: str | None = Field(
        default=None,
        description="The service role's URL: `migrate` reads only its user name, when database_service_role is unset.",
    )

    @model_validator(mode="after")
    def _check(self) -> MigrationSettings:
        if self.environment != "dev":
            self._refuse_weak_database_password("database_owner_url", self.owner_url)
        self.service_role  # noqa: B018 - fails early when neither names the role
        return self

    @property
    def owner_url(self) -> str:
        """The URL the migrations run as."""
        return self.database_owner_url.get_secret_value()

    @property
    def service_role(self) -> str:
        """The role the migrations grant to."""
        role = self.database_service_role or (make_url(self.database_url).username if self.database_url else None)
        if not role:
            raise ValueError("MAESTRO_DATABASE_SERVICE_ROLE: not set, and no MAESTRO_DATABASE_URL names a user")
        return role


def _redis_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).password


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
