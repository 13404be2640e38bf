"""Sign-in and sessions on real servers: the code flow with PKCE, state and nonce against the lab's provider, the
session's cookie, lifetime, idle timeout and sign-out, and what a session is not (an API key, a bearer token)."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from maestro_api.core.config import Settings
from maestro_api.ui.oidc import pkce_challenge
from maestro_api.ui.session import LOGIN_COOKIE, SESSION_COOKIE

from tests.app.conftest import superuser_conn
from tests.app.registry.conftest import Tenant, database_of
from tests.app.ui.conftest import (
    Idp,
    authorize,
    browser_of,
    finish_sign_in,
    same_origin,
    sign_in,
    start_sign_in,
)
from tests.servers import PgServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]
SEARCH = "/mlflow/ajax-api/2.0/mlflow/experiments/search?max_results=5"


def session_key(browser: httpx.AsyncClient) -> str:
    return "maestro:ui:session:" + hashlib.sha256(browser.cookies[SESSION_COOKIE].encode()).hexdigest()


async def test_sign_in_sets_a_host_only_secure_httponly_lax_cookie_naming_a_server_side_session(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant], ui_settings: Settings
) -> None:
    a, _ = two_tenants
    url = await start_sign_in(ui)
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["https://ui.test/mlflow/oauth/callback"] and query["client_id"] == ["maestro-ui"]
    sub = idp.user("ds-cookie", a.name, "data-scientist")
    r = await finish_sign_in(ui, authorize(url, sub))
    assert r.status_code == 303 and r.headers["location"] == "/mlflow/"
    cookies = [c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")]
    assert len(cookies) == 1
    attributes = {part.strip().split("=")[0].lower() for part in cookies[0].split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite", "max-age"} <= attributes and "domain" not in attributes
    assert "samesite=lax" in cookies[0].lower() and "path=/;" in cookies[0].lower() + ";"
    # The session lives in Redis under the hash of the cookie; it holds the claims, never a token.
    redis = aioredis.Redis.from_url(ui_settings.redis_url)
    stored = orjson.loads(await redis.get(session_key(ui)))
    assert set(stored["claims"]) == {"sub", "maestro_tenant", "maestro_role"} and stored["claims"]["sub"] == sub
    assert ui.cookies[SESSION_COOKIE] not in str(stored)
    assert 0 < await redis.ttl(session_key(ui)) <= ui_settings.ui_session_idle_seconds
    await redis.aclose()
    assert (await ui.get(SEARCH)).status_code == 200


async def test_the_code_is_traded_only_with_the_pkce_verifier_state_and_nonce_of_this_sign_in(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant], ui_settings: Settings
) -> None:
    a, _ = two_tenants
    sub = idp.user("ds-pkce", a.name, "data-scientist")
    redis = aioredis.Redis.from_url(ui_settings.redis_url)

    async def pending(url: str) -> tuple[str, dict[str, str]]:
        state = parse_qs(urlsplit(url).query)["state"][0]
        key = "maestro:ui:login:" + hashlib.sha256(state.encode()).hexdigest()
        return key, orjson.loads(await redis.get(key))

    # The provider saw the S256 challenge of exactly the verifier Maestro keeps for the token request.
    url = await start_sign_in(ui)
    key, record = await pending(url)
    assert parse_qs(urlsplit(url).query)["code_challenge"] == [pkce_challenge(record["verifier"])]
    assert parse_qs(urlsplit(url).query)["nonce"] == [record["nonce"]]
    # Another verifier: the provider refuses the code, so does Maestro.
    await redis.set(key, orjson.dumps({**record, "verifier": "x" * 64}))
    r = await finish_sign_in(ui, authorize(url, sub))
    assert r.status_code == 401 and SESSION_COOKIE not in ui.cookies
    # Another nonce: the ID token is not this sign-in's.
    url = await start_sign_in(ui)
    key, record = await pending(url)
    await redis.set(key, orjson.dumps({**record, "nonce": "another-sign-in"}))
    r = await finish_sign_in(ui, authorize(url, sub))
    assert r.status_code == 401 and "does not belong to this sign-in" in r.text
    # A callback is taken once: replayed, or with a state nobody issued, it is refused.
    url = await start_sign_in(ui)
    callback = authorize(url, sub)
    assert (await finish_sign_in(ui, callback)).status_code == 303
    replay = await finish_sign_in(ui, callback)
    assert replay.status_code == 400 and "expired" in replay.text
    forged = await ui.get("/mlflow/oauth/callback?code=x&state=nobody-issued-this")
    assert forged.status_code == 400
    # The provider's refusal (the user pressed Deny) is a refusal.
    denied = await ui.get("/mlflow/oauth/callback?error=access_denied&state=s")
    assert denied.status_code == 401
    await redis.aclose()


async def test_a_sign_in_finishes_only_in_the_browser_that_started_it(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    # The attacker starts a sign-in as themselves and sends the callback URL to the victim (login CSRF).
    attacker_url = await start_sign_in(ui)
    callback = authorize(attacker_url, idp.user("attacker", a.name, "tenant-admin"))
    async with browser_of(ui) as victim:
        r = await finish_sign_in(victim, callback)
        assert r.status_code == 400 and SESSION_COOKIE not in victim.cookies
    assert LOGIN_COOKIE in ui.cookies


async def test_sign_in_is_refused_for_claims_the_api_refuses(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    for sub, tenant, role, why in [
        ("no-such-tenant", "nobody-here", "viewer", "unknown tenant"),
        ("bad-role", a.name, "root", "not a Maestro role"),
    ]:
        r = await finish_sign_in(ui, authorize(await start_sign_in(ui), idp.user(sub, tenant, role)))
        assert r.status_code == 401 and why in r.text, r.text
    # A user the provider knows without Maestro's claims.
    r = await finish_sign_in(ui, authorize(await start_sign_in(ui), "stranger"))
    assert r.status_code == 401 and "maestro_tenant" in r.text
    assert SESSION_COOKIE not in ui.cookies


async def test_sign_out_ends_the_session_at_once_and_the_cookie_is_worthless(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    await sign_in(ui, idp, a.name, "data-scientist")
    cookie = ui.cookies[SESSION_COOKIE]
    page = await ui.get("/mlflow/oauth/logout")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    r = await ui.post("/mlflow/oauth/logout", headers=same_origin())
    assert r.status_code == 303 and r.headers["location"] == "/mlflow/"
    assert '"cache"' in r.headers["clear-site-data"]
    assert SESSION_COOKIE not in ui.cookies
    # The old cookie, replayed by anyone, finds no session.
    async with browser_of(ui) as replay:
        replay.cookies.set(SESSION_COOKIE, cookie, domain="ui.test")
        assert (await replay.get(SEARCH)).status_code == 401
        assert (await replay.get("/mlflow/")).headers["location"] == "/mlflow/oauth/login"
        # Signed out, the sign-out page sends the browser to sign in again.
        assert (await replay.get("/mlflow/oauth/logout")).headers["location"] == "/mlflow/"


async def test_a_session_ends_after_its_idle_timeout_and_its_lifetime(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant], ui_settings: Settings
) -> None:
    a, _ = two_tenants
    redis = aioredis.Redis.from_url(ui_settings.redis_url)
    await sign_in(ui, idp, a.name, "viewer")
    assert (await ui.get(SEARCH)).status_code == 200
    # Each request renews the idle timeout; without requests the key expires.
    await redis.expire(session_key(ui), 1)
    assert (await ui.get(SEARCH)).status_code == 200
    assert await redis.ttl(session_key(ui)) > 1
    await redis.expire(session_key(ui), 1)
    time.sleep(1.5)
    assert (await ui.get(SEARCH)).status_code == 401
    # However active, a session ends at its lifetime.
    await sign_in(ui, idp, a.name, "viewer")
    stored = orjson.loads(await redis.get(session_key(ui)))
    assert stored["ends_at"] == pytest.approx(time.time() + ui_settings.ui_session_lifetime_seconds, abs=30)
    await redis.set(session_key(ui), orjson.dumps({**stored, "ends_at": time.time() - 1}), ex=600)
    assert (await ui.get(SEARCH)).status_code == 401
    assert not await redis.exists(session_key(ui))
    await redis.aclose()


async def test_a_suspended_tenant_loses_the_ui_on_its_next_request(
    ui: httpx.AsyncClient, idp: Idp, two_tenants: tuple[Tenant, Tenant], ui_settings: Settings, pg_server: PgServer
) -> None:
    a, _ = two_tenants
    await sign_in(ui, idp, a.name, "data-scientist")
    assert (await ui.get(SEARCH)).status_code == 200
    with superuser_conn(pg_server, database_of(ui_settings)) as conn:
        conn.execute("UPDATE tenants SET active = false WHERE id = %s", (a.id,))
    # The API caches a tenant's lookup for at most a second (auth_cache_ttl_seconds is 0 in these tests).
    time.sleep(1.1)
    r = await ui.get(SEARCH)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    assert (await ui.get("/mlflow/")).status_code == 302


async def test_a_session_is_the_uis_only_credential_and_no_api_key_is_taken_from_a_cookie(
    ui: httpx.AsyncClient, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = two_tenants
    key = a.keys["tenant-admin"]
    # A bearer key on the UI's routes is ignored: no session, no access.
    r = await ui.get(SEARCH, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    # A key where the session cookie goes is just an unknown session.
    ui.cookies.set(SESSION_COOKIE, key, domain="ui.test")
    assert (await ui.get(SEARCH)).status_code == 401
    assert (await ui.get("/mlflow/")).status_code == 302
    # And neither the API nor the client proxy reads a credential from any cookie.
    for name in (SESSION_COOKIE, "Authorization", "access_token", "mlflow-request-header-Authorization"):
        ui.cookies.set(name, key, domain="ui.test")
    assert (await ui.get("/v1/models")).status_code == 401
    assert (await ui.get("/mlflow/api/2.0/mlflow/experiments/search?max_results=1")).status_code == 401
    # While the same key as a bearer token works there, as before.
    ok = await ui.get(
        "/mlflow/api/2.0/mlflow/experiments/search?max_results=1", headers={"Authorization": f"Bearer {key}"}
    )
    assert ok.status_code == 200


async def test_without_redis_the_ui_answers_503_and_never_signs_anyone_in(
    ui_settings: Settings, idp: Idp, two_tenants: tuple[Tenant, Tenant]
) -> None:
    from tests.app.conftest import app_client

    broken = ui_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with app_client(broken) as client:
        client.base_url = httpx.URL("https://ui.test")
        client.cookies.set(SESSION_COOKIE, "anything", domain="ui.test")
        r = await client.get(SEARCH)
        assert r.status_code == 503 and r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert (await client.get("/mlflow/oauth/login")).status_code == 503
