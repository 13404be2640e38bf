"""Authentication on real PostgreSQL/Redis: API keys (expiry, revocation, suspension) and OIDC JWTs verified
against a real JWKS served over HTTP on loopback with keys generated here."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from maestro_api.core.config import Settings
from maestro_api.metrics import REGISTRY

from tests.app.conftest import DbRoles, app_client, auth, bootstrap, owner_url, user_with_key

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

ISSUER = "https://idp.maestro.test"
AUDIENCE = "maestro-api"


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture(scope="module")
def jwks_url(signing_keys: dict[str, Any]) -> Iterator[str]:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_keys["rsa"].public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signing_keys["ec"].public_key()))
    body = json.dumps(
        {"keys": [{**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"}, {**ec_jwk, "kid": "ec-1", "alg": "ES256"}]}
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def oidc_settings(api_settings: Settings, jwks_url: str) -> Settings:
    return api_settings.model_copy(update={"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": jwks_url})


def token(key: Any, *, alg: str = "RS256", kid: str = "rsa-1", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "maestro_tenant": "acme",
        "maestro_role": "ml-engineer",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("maestro_auth_failures_total", {"reason": reason}) or 0.0


async def test_missing_and_malformed_credentials_are_401_with_challenge(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        r = await client.get("/v1/roles", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith('Bearer realm="maestro"')
        assert r.headers["content-type"] == "application/problem+json"
    before = failures("invalid_key")
    r = await client.get("/v1/roles", headers=auth("mst_abcdefgh_" + "A" * 43))  # well-formed, unknown
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert failures("invalid_key") == before + 1
    before = failures("malformed")
    r = await client.get("/v1/roles", headers=auth("mst_abcdefgh_not-a-real-secret"))  # not a key's shape: no lookup
    assert r.status_code == 401 and failures("malformed") == before + 1


async def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(
    api_settings: Settings, client: httpx.AsyncClient
) -> None:
    key = await bootstrap(api_settings, "acme")
    assert (await client.get("/v1/roles", headers=auth(key))).status_code == 200
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert (await client.get("/v1/roles", headers=auth(tampered))).status_code == 401


async def test_revoked_and_expired_keys_are_refused(api_settings: Settings, client: httpx.AsyncClient) -> None:
    admin = await bootstrap(api_settings, "acme")
    user, created = await user_with_key(client, admin, "tmp@acme.test")
    assert (await client.get("/v1/roles", headers=auth(created["key"]))).status_code == 200
    assert (await client.delete(f"/v1/api-keys/{created['id']}", headers=auth(admin))).status_code == 204
    r = await client.get("/v1/roles", headers=auth(created["key"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]

    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    body = {"name": "short", "expires_at": soon, "user_id": user["id"]}
    short = (await client.post("/v1/api-keys", json=body, headers=auth(admin))).json()
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    body = {"name": "past", "expires_at": past, "user_id": user["id"]}
    r = await client.post("/v1/api-keys", json=body, headers=auth(admin))
    assert r.status_code == 422
    time.sleep(1.2)
    r = await client.get("/v1/roles", headers=auth(short["key"]))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_key_is_shown_once_and_stored_only_as_hash(
    api_settings: Settings, client: httpx.AsyncClient, db_roles: DbRoles
) -> None:
    admin = await bootstrap(api_settings, "acme")
    _, created = await user_with_key(client, admin, "once@acme.test")
    listed = (await client.get(f"/v1/api-keys/{created['id']}", headers=auth(admin))).json()
    assert "key" not in listed and listed["prefix"] in created["key"]
    import psycopg

    from tests.app.conftest import OWNER

    url = owner_url(api_settings, db_roles).replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('maestro.platform', 'on', false)")
        conn.execute("SELECT set_config('maestro.tenant_id', %s, false)", (created["tenant_id"],))
        rows = conn.execute("SELECT key_hash::text FROM api_keys").fetchall()
    assert rows and all(created["key"] not in r[0] for r in rows)
    assert OWNER in url


async def test_a_tenant_admin_cannot_mint_a_platform_admin_key(
    api_settings: Settings, client: httpx.AsyncClient
) -> None:
    admin = await bootstrap(api_settings, "acme")
    user = await client.post("/v1/users", json={"email": "x@acme.test", "role": "tenant-admin"}, headers=auth(admin))
    body = {"name": "x", "role": "platform-admin", "user_id": user.json()["id"]}
    r = await client.post("/v1/api-keys", json=body, headers=auth(admin))
    assert r.status_code == 403
    r = await client.post("/v1/api-keys", json={**body, "role": "ml-engineer"}, headers=auth(admin))
    assert r.status_code == 201


async def test_suspended_tenant_keys_are_refused(api_settings: Settings, client: httpx.AsyncClient) -> None:
    root = await bootstrap(api_settings, "platform", role="platform-admin")
    key = await bootstrap(api_settings, "acme")
    tenants = (await client.get("/v1/tenants", headers=auth(root))).json()
    acme = next(t for t in tenants if t["name"] == "acme")
    r = await client.patch(f"/v1/tenants/{acme['id']}", json={"active": False}, headers=auth(root))
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await client.get("/v1/roles", headers=auth(key))).status_code == 401


async def test_oidc_tokens_map_claims_to_tenant_and_role(oidc_settings: Settings, signing_keys: dict[str, Any]) -> None:
    await bootstrap(oidc_settings, "acme")
    async with app_client(oidc_settings) as c:
        ok = token(signing_keys["rsa"])
        assert (await c.get("/v1/roles", headers=auth(ok))).status_code == 200
        # ml-engineer: may not read API keys (tenant-admin only)
        assert (await c.get("/v1/api-keys", headers=auth(ok))).status_code == 403
        admin = token(signing_keys["rsa"], maestro_role="tenant-admin")
        assert (await c.get("/v1/api-keys", headers=auth(admin))).status_code == 200
        es = token(signing_keys["ec"], alg="ES256", kid="ec-1")
        assert (await c.get("/v1/roles", headers=auth(es))).status_code == 200


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "expired_token"),
        ("not_yet_valid", "immature_token"),
        ("wrong_audience", "invalid_token"),
        ("wrong_issuer", "invalid_token"),
        ("unknown_key", "unknown_key"),
        ("foreign_signature", "invalid_token"),
        ("alg_none", "algorithm"),
        ("hs256_with_public_key", "algorithm"),
        ("unknown_tenant", "claims"),
        ("bad_role", "claims"),
        ("no_exp", "invalid_token"),
    ],
)
async def test_bad_oidc_tokens_are_401(
    oidc_settings: Settings, signing_keys: dict[str, Any], case: str, reason: str
) -> None:
    await bootstrap(oidc_settings, "acme")
    key = signing_keys["rsa"]
    now = int(time.time())
    bad = {
        "expired": lambda: token(key, exp=now - 3600, iat=now - 7200),
        "not_yet_valid": lambda: token(key, nbf=now + 3600),
        "wrong_audience": lambda: token(key, aud="someone-else"),
        "wrong_issuer": lambda: token(key, iss="https://evil.example"),
        "unknown_key": lambda: token(key, kid="nope"),
        "foreign_signature": lambda: token(signing_keys["other"]),
        "alg_none": lambda: jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "maestro_tenant": "acme"},
            None,
            algorithm="none",
            headers={"kid": "rsa-1"},
        ),
        "hs256_with_public_key": lambda: _hs256_with_public_key(key),
        "unknown_tenant": lambda: token(key, maestro_tenant="ghost"),
        "bad_role": lambda: token(key, maestro_role="root"),
        "no_exp": lambda: token(key, exp=None),
    }[case]()
    before = failures(reason)
    async with app_client(oidc_settings) as c:
        r = await c.get("/v1/roles", headers=auth(bad))
    assert r.status_code == 401, (case, r.text)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert failures(reason) == before + 1


def _hs256_with_public_key(private_key: Any) -> str:
    """The classic confusion attack: HMAC-sign with the RSA public key's PEM as the secret."""
    import base64
    import hashlib
    import hmac

    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "maestro_tenant": "acme"}
    payload = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


async def test_an_oidc_subject_follows_its_directory_entry(
    oidc_settings: Settings, signing_keys: dict[str, Any]
) -> None:
    settings = oidc_settings.model_copy(update={"auth_cache_ttl_seconds": 1.0})
    admin = await bootstrap(settings, "acme")
    engineer = token(signing_keys["rsa"], sub="ada", maestro_role="tenant-admin")
    async with app_client(settings) as a, app_client(settings) as b:
        # No entry: the token's claim decides; and such a subject cannot make keys without naming their user.
        assert (await b.get("/v1/users", headers=auth(engineer))).status_code == 200
        r = await b.post("/v1/api-keys", json={"name": "k"}, headers=auth(engineer))
        assert r.status_code == 422
        # An entry with a lower role caps the claim (in b once its cached directory entry expires).
        body = {"email": "ada@acme.test", "subject": "ada", "role": "viewer"}
        user = (await a.post("/v1/users", json=body, headers=auth(admin))).json()
        await asyncio.sleep(1.3)
        r = await b.get("/v1/users", headers=auth(engineer))
        assert r.status_code == 403 and "Role 'viewer' lacks" in r.json()["detail"]
        # Promoted in the directory, the claim is the ceiling; the subject's keys are bound to the entry.
        assert (await a.patch(f"/v1/users/{user['id']}", json={"role": "tenant-admin"}, headers=auth(admin))).is_success
        await asyncio.sleep(1.3)
        r = await b.post("/v1/api-keys", json={"name": "mine", "role": "viewer"}, headers=auth(engineer))
        assert r.status_code == 201 and r.json()["user_id"] == user["id"]
        key = r.json()["key"]
        # Disabled: its tokens and its keys are refused.
        assert (await a.patch(f"/v1/users/{user['id']}", json={"disabled": True}, headers=auth(admin))).is_success
        await asyncio.sleep(1.3)
        r = await b.get("/v1/roles", headers=auth(engineer))
        assert r.status_code == 401 and "disabled" in r.json()["detail"]
        r = await b.get("/v1/roles", headers=auth(key))
        assert r.status_code == 401 and r.json()["detail"] == "The key's user is disabled."


async def test_one_directory_entry_per_subject(client: httpx.AsyncClient, api_settings: Settings) -> None:
    admin = await bootstrap(api_settings, "acme")
    first = {"email": "a@acme.test", "subject": "sub-1"}
    assert (await client.post("/v1/users", json=first, headers=auth(admin))).status_code == 201
    r = await client.post("/v1/users", json={**first, "email": "b@acme.test"}, headers=auth(admin))
    assert r.status_code == 409 and "subject" in r.json()["detail"]
