"""Identity and the audit log through the whole lab (WAF over HTTPS -> the API on app1 -> Patroni), acting as a
tenant admin who disables and demotes users, and as a database owner who rewrites history:

- a disabled user's keys, OIDC tokens (real ones, from the lab's identity provider) and UI sessions are refused;
  once the user is enabled, keys and tokens work again and a refused UI session stays ended (a new sign-in works);
  a demoted user's key or token is capped at the new role (all within the auth cache's TTL);
- the owner's rewrite of an audit event, recomputed as the plain SHA-256 chain (the only chain an owner without the
  audit key can recompute), is found by `maestro-api-admin audit verify`; put back, the chain verifies again."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import shlex
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from maestro.lab import idp
from maestro.lab.nspawn import ssh
from maestro.lab.topology import host_by_name

pytestmark = pytest.mark.lab

# The API's auth cache keeps a verified key for MAESTRO_AUTH_CACHE_TTL_SECONDS (5 s by default): a change takes
# effect within that; the margin covers slow lab hosts.
CHANGE_DEADLINE_SECONDS = 30.0
ADMIN = "/usr/local/bin/maestro-api-admin"
API_PYTHON = "/opt/maestro-api/venv/bin/python"


@pytest.fixture(scope="module")
def edge(lab_endpoints: dict[str, Any], ca_file: str) -> Callable[[str], httpx.Client]:
    """A client of the edge for one API key."""

    def client(key: str) -> httpx.Client:
        return httpx.Client(
            base_url=lab_endpoints["api"],
            verify=ca_file,
            timeout=60,
            headers={
                "Authorization": f"Bearer {key}",
                "Host": lab_endpoints["api_hostname"],
                "Accept": "application/json",
                "User-Agent": "maestro-lab-tests",
            },
        )

    return client


@pytest.fixture(scope="module")
def tenant(edge: Callable[[str], httpx.Client]) -> Iterator[tuple[str, httpx.Client]]:
    """A new tenant of its own (its audit chain is the one the owner rewrites), and its bootstrap admin's client."""
    name = f"lab-identity-{uuid.uuid4().hex[:6]}"
    out = ssh(host_by_name("app1"), f"{ADMIN} bootstrap --tenant {name} --tier standard").stdout
    with edge(out.strip().splitlines()[-1].strip()) as admin:
        yield name, admin


def user_and_key(admin: httpx.Client, role: str) -> tuple[str, str]:
    """Invite a user with ``role`` and make a key of the same role acting for it: (user id, key)."""
    r = admin.post("/v1/users", json={"email": f"{role}-{uuid.uuid4().hex[:6]}@lab.test", "role": role})
    assert r.status_code == 201, r.text
    user_id = str(r.json()["id"])
    r = admin.post("/v1/api-keys", json={"name": f"lab-{role}", "role": role, "user_id": user_id})
    assert r.status_code == 201, r.text
    return user_id, str(r.json()["key"])


def within_deadline(check: Callable[[], int], expected: int) -> int:
    """Poll ``check`` (a status) until it answers ``expected`` or the deadline passes; the last status."""
    deadline = time.monotonic() + CHANGE_DEADLINE_SECONDS
    status = check()
    while status != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        status = check()
    return status


def test_a_disabled_users_keys_are_refused_and_come_back_when_enabled(
    tenant: tuple[str, httpx.Client], edge: Callable[[str], httpx.Client]
) -> None:
    _, admin = tenant
    user_id, key = user_and_key(admin, "data-scientist")
    with edge(key) as ds:
        assert ds.get("/v1/models").status_code == 200  # warm: the key is now in the API's cache
        assert admin.patch(f"/v1/users/{user_id}", json={"disabled": True}).status_code == 200
        status = within_deadline(lambda: ds.get("/v1/models").status_code, 401)
        assert status == 401
        refused = ds.get("/v1/models")
        assert refused.headers["content-type"] == "application/problem+json"
        assert "disabled" in refused.json()["detail"]
        # Through /mlflow as well: the same authentication.
        assert ds.get("/mlflow/api/2.0/mlflow/experiments/search", params={"max_results": 1}).status_code == 401
        # No new key can be made for a disabled user.
        made = admin.post("/v1/api-keys", json={"name": "again", "role": "viewer", "user_id": user_id})
        assert made.status_code == 409, made.text
        assert admin.patch(f"/v1/users/{user_id}", json={"disabled": False}).status_code == 200
        assert within_deadline(lambda: ds.get("/v1/models").status_code, 200) == 200


def test_a_demoted_users_key_is_capped_at_the_new_role(
    tenant: tuple[str, httpx.Client], edge: Callable[[str], httpx.Client]
) -> None:
    _, admin = tenant
    user_id, key = user_and_key(admin, "tenant-admin")
    with edge(key) as other_admin:
        assert other_admin.get("/v1/users").status_code == 200  # users:read, a tenant admin's
        assert admin.patch(f"/v1/users/{user_id}", json={"role": "viewer"}).status_code == 200
        # The key still says tenant-admin; its user is a viewer now, and so is the key.
        assert within_deadline(lambda: other_admin.get("/v1/users").status_code, 403) == 403
        assert other_admin.get("/v1/models").status_code == 200
        listed = {k["id"]: k for k in admin.get("/v1/api-keys").json()}
        assert {k["role"] for k in listed.values() if k["user_id"] == user_id} == {"tenant-admin"}


# Run on app1 with the API's own Python as the database owner (the URL of /etc/maestro-api/migrate.env): the
# append-only trigger off, the tenant's events rewritten in the only format an owner without the audit key can
# recompute (plain SHA-256, key_id NULL), the head moved, the trigger on again. It prints the rows as they were, so the
# test can put them back ("restore" mode, rows on the command line).
OWNER_SCRIPT = """
import base64, json, os, sys
import psycopg
from maestro_api.core.audit import GENESIS_HASH, event_hash

mode, tenant = sys.argv[1], sys.argv[2]
url = os.environ["MAESTRO_DATABASE_OWNER_URL"].replace("+psycopg", "")
with psycopg.connect(url, autocommit=False) as conn:
    conn.execute("SELECT set_config('maestro.platform', 'on', true), set_config('maestro.tenant_id', '', true)")
    tid = conn.execute("SELECT id FROM tenants WHERE name = %s", (tenant,)).fetchone()[0]
    conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
    cols = ("id", "tenant_id", "seq", "occurred_at", "actor", "action", "target", "outcome", "request_id",
            "client_address", "prev_hash", "hash", "key_id")
    rows = [dict(zip(cols, r)) for r in conn.execute(
        f"SELECT {', '.join(cols)} FROM audit_events WHERE tenant_id = %s ORDER BY seq", (tid,))]
    head = conn.execute("SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = %s", (tid,)).fetchone()
    if mode == "rewrite":
        print(json.dumps({"rows": [{k: r[k] for k in ("id", "target", "prev_hash", "hash", "key_id")} for r in rows],
                          "head": list(head)}))
        prev = GENESIS_HASH
        for r in rows:
            if r["action"] == "api_keys:create":
                r["target"] = "api_key:00000000-0000-0000-0000-000000000000"
            r["prev_hash"] = prev
            r["hash"] = prev = event_hash(r)
            conn.execute("UPDATE audit_events SET target = %s, prev_hash = %s, hash = %s, key_id = NULL WHERE id = %s",
                         (r["target"], r["prev_hash"], r["hash"], r["id"]))
        conn.execute("UPDATE audit_chain_heads SET hash = %s WHERE tenant_id = %s", (prev, tid))
    else:
        saved = json.loads(base64.b64decode(sys.argv[3]))
        for r in saved["rows"]:
            conn.execute("UPDATE audit_events SET target = %s, prev_hash = %s, hash = %s, key_id = %s WHERE id = %s",
                         (r["target"], r["prev_hash"], r["hash"], r["key_id"], r["id"]))
        conn.execute("UPDATE audit_chain_heads SET seq = %s, hash = %s WHERE tenant_id = %s",
                     (saved["head"][0], saved["head"][1], tid))
    conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")
    conn.commit()
"""


def as_owner(*args: str) -> str:
    """Run ``OWNER_SCRIPT`` on app1 with the owner's URL; its stdout."""
    script = shlex.quote(OWNER_SCRIPT)
    argv = " ".join(shlex.quote(a) for a in args)
    command = f"set -a; . /etc/maestro-api/migrate.env; set +a; {API_PYTHON} -c {script} {argv}"
    return ssh(host_by_name("app1"), command).stdout


def audit_verify(tenant: str) -> tuple[int, str]:
    """`maestro-api-admin audit verify --tenant` on app1, with the service's settings: (exit status, its output)."""
    done = ssh(host_by_name("app1"), f"{ADMIN} audit verify --tenant {shlex.quote(tenant)} 2>&1", check=False)
    return done.returncode, done.stdout


def test_a_database_owners_rewrite_of_an_audit_event_is_detected(tenant: tuple[str, httpx.Client]) -> None:
    name, admin = tenant
    user_and_key(admin, "viewer")  # an api_keys:create event to rewrite, among the invite's
    status, out = audit_verify(name)
    assert status == 0, out
    assert "audit chain ok" in out

    saved = as_owner("rewrite", name)
    try:
        status, out = audit_verify(name)
        assert status == 1, out
        assert "audit chain BROKEN" in out, out
        # What an operator reads on the API: the rewritten event, without a key id.
        events = admin.get("/v1/audit-events", params={"limit": 500}).json()["items"]
        assert any(e["target"].endswith("00000000-0000-0000-0000-000000000000") for e in events)
        assert all(e["key_id"] is None for e in events)
    finally:
        as_owner("restore", name, base64.b64encode(saved.strip().encode()).decode())
    status, out = audit_verify(name)
    assert status == 0, out


def test_the_serving_process_holds_no_owner_credentials() -> None:
    """The owner's URL is in the migrations' file, root's alone; the API's environment and account never see it."""
    app1 = host_by_name("app1")
    env = ssh(app1, "cat /etc/maestro-api/maestro-api.env").stdout
    assert "MAESTRO_DATABASE_OWNER_URL" not in env and "MAESTRO_AUDIT_KEY=" in env
    pid = ssh(app1, "systemctl show -p MainPID --value maestro-api").stdout.strip()
    environ = ssh(app1, f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout
    assert "MAESTRO_DATABASE_OWNER_URL" not in environ
    mode = ssh(app1, "stat -c '%U:%G %a' /etc/maestro-api/migrate.env").stdout.strip()
    assert mode == "root:root 600"
    assert ssh(app1, "runuser -u maestro-api -- cat /etc/maestro-api/migrate.env", check=False).returncode != 0
    # The migrations ran as their own one-shot unit, which the serving unit orders after.
    assert ssh(app1, "systemctl show -p Result --value maestro-api-migrate").stdout.strip() == "success"
    assert "maestro-api-migrate.service" in ssh(app1, "systemctl show -p After --value maestro-api").stdout


def test_the_apis_metrics_refuse_the_edge_host_without_the_token(
    hosts: dict[str, Any], ports: dict[str, int], secrets: dict[str, str], lab_endpoints: dict[str, Any]
) -> None:
    """The edge host reaches the API's port (it proxies /v1 there); /metrics there asks for the token, which
    Prometheus sends: its scrape of the API is up."""
    url = f"http://{host_by_name('app1').ip}:{ports['api']}/metrics"
    edge1 = hosts["edge1"]

    def status(*options: str) -> int:
        args = " ".join(shlex.quote(o) for o in options)
        out = edge1.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 {args} {shlex.quote(url)}").stdout
        return int(out.strip() or 0)

    assert status() == 401
    assert status("-H", "Authorization: Bearer not-the-token") == 401
    assert status("-H", f"Authorization: Bearer {secrets['api_metrics_token']}") == 200
    query = f"{lab_endpoints['prometheus']}/api/v1/query"
    operator = ("maestro", secrets["prometheus_password"])
    deadline = time.monotonic() + 90  # a scrape interval or two after the lab came up
    while True:
        r = httpx.get(query, params={"query": 'up{job="maestro-api"}'}, auth=operator)
        assert r.status_code == 200, r.text
        values = [sample["value"][1] for sample in r.json()["data"]["result"]]
        if (values and all(v == "1" for v in values)) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert values and all(v == "1" for v in values), r.text


# --- OIDC: a real token of the lab's identity provider for a user of the tenant's directory ------------------------
# The provider (lab_idp on mon1, oidc-provider-mock) signs anyone in by subject; its `PUT /users/<sub>` defines a user
# and the claims its tokens carry. Each test defines its own user of the test's tenant, invites it to the directory
# with that subject, and gets its tokens by the authorization code flow with PKCE, as any relying party does: a
# bearer token for the API (audience maestro-api), and a UI session through the edge (the UI's own client).

# Any redirect URI is accepted by the lab's provider for the API's client; the code is read off its redirect.
API_REDIRECT = "https://maestro-lab-tests.invalid/callback"
BROWSER_HEADERS = {"Accept": "text/html,application/json", "User-Agent": "maestro-lab-tests"}


@dataclass(frozen=True)
class OidcUser:
    """A user of the test's tenant at the lab's provider and in the tenant's directory."""

    sub: str
    user_id: str
    token: str
    """An ID token of the provider for the API (audience maestro-api)."""
    admin: httpx.Client
    """The tenant's admin, who disables and demotes the user."""

    def change(self, **update: object) -> None:
        """Change the user's directory entry as the admin (``disabled``, ``role``)."""
        r = self.admin.patch(f"/v1/users/{self.user_id}", json=update)
        assert r.status_code == 200, r.text


def define_user(lab_endpoints: dict[str, Any], ca_file: str, *, sub: str, tenant: str, role: str) -> None:
    """Define ``sub`` at the lab's provider with the tenant and role claims its tokens will carry."""
    claims = {"email": f"{sub}@maestro.lab", "maestro_tenant": tenant, "maestro_role": role}
    r = httpx.put(f"{lab_endpoints['idp']}/users/{sub}", json=claims, verify=ca_file, timeout=30)
    assert r.status_code == 204, r.text


def sign_in_at_provider(authorization_url: str, sub: str, ca_file: str) -> str:
    """Submit the provider's sign-in form as ``sub``; the redirect URI (with the code) it sends the browser to."""
    r = httpx.post(authorization_url, data={"sub": sub}, verify=ca_file, timeout=30)
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


def api_token(lab_endpoints: dict[str, Any], ca_file: str, sub: str) -> str:
    """An ID token for ``sub`` with the API's audience (the lab's OIDC_AUDIENCE), by the code flow with PKCE."""
    issuer = str(lab_endpoints["idp"])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": idp.API_AUDIENCE,
        "redirect_uri": API_REDIRECT,
        "scope": "openid",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    back = sign_in_at_provider(f"{issuer}/oauth2/authorize?{urlencode(query)}", sub, ca_file)
    code = parse_qs(urlsplit(back).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": API_REDIRECT,
        "code_verifier": verifier,
        "client_id": idp.API_AUDIENCE,
    }
    # The lab's provider takes any secret of a client it does not know, but only with client authentication.
    client = httpx.BasicAuth(idp.API_AUDIENCE, "lab-tests")
    r = httpx.post(f"{issuer}/oauth2/token", data=form, auth=client, verify=ca_file, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["id_token"])


@contextlib.contextmanager
def ui_session(lab_endpoints: dict[str, Any], ca_file: str, sub: str) -> Iterator[httpx.Client]:
    """A browser (a cookie jar) signed in to the UI through the edge as ``sub``: the UI's own sign-in, end to end."""
    origin = str(lab_endpoints["ui"]).removesuffix("/mlflow/")
    with httpx.Client(base_url=origin, verify=ca_file, timeout=60, headers=BROWSER_HEADERS) as browser:
        r = browser.get("/mlflow/oauth/login")
        assert r.status_code == 302, r.text
        back = urlsplit(sign_in_at_provider(str(r.headers["location"]), sub, ca_file))
        assert f"{back.scheme}://{back.netloc}" == origin, back
        r = browser.get(f"{back.path}?{back.query}")
        assert r.status_code == 303 and r.headers["location"] == "/mlflow/", r.text
        yield browser


def ui_experiments(browser: httpx.Client) -> int:
    """The status of the UI's experiments list (what its first page asks for)."""
    return browser.get("/mlflow/ajax-api/2.0/mlflow/experiments/search", params={"max_results": 1}).status_code


@pytest.fixture
def oidc_user(tenant: tuple[str, httpx.Client], lab_endpoints: dict[str, Any], ca_file: str) -> Iterator[OidcUser]:
    """A data scientist of the test's tenant at the provider and in the directory; enabled and a data scientist
    again afterwards, whatever the test did."""
    name, admin = tenant
    sub = f"lab-oidc-{uuid.uuid4().hex[:8]}"
    define_user(lab_endpoints, ca_file, sub=sub, tenant=name, role="data-scientist")
    r = admin.post("/v1/users", json={"email": f"{sub}@maestro.lab", "role": "data-scientist", "subject": sub})
    assert r.status_code == 201, r.text
    user = OidcUser(sub=sub, user_id=str(r.json()["id"]), token=api_token(lab_endpoints, ca_file, sub), admin=admin)
    yield user
    user.change(disabled=False, role="data-scientist")


def test_a_disabled_users_oidc_token_is_refused_until_enabled_and_its_ui_session_ends(
    oidc_user: OidcUser, edge: Callable[[str], httpx.Client], lab_endpoints: dict[str, Any], ca_file: str
) -> None:
    with edge(oidc_user.token) as api, ui_session(lab_endpoints, ca_file, oidc_user.sub) as browser:
        assert api.get("/v1/models").status_code == 200  # the provider's token works through the edge
        assert ui_experiments(browser) == 200
        oidc_user.change(disabled=True)
        assert within_deadline(lambda: api.get("/v1/models").status_code, 401) == 401
        refused = api.get("/v1/models")
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 401 and "disabled" in refused.json()["detail"]
        assert api.get("/mlflow/api/2.0/mlflow/experiments/search", params={"max_results": 1}).status_code == 401
        # The UI session was made before; the same directory check refuses it within the same deadline, and ends it.
        assert within_deadline(lambda: ui_experiments(browser), 401) == 401
        oidc_user.change(disabled=False)
        assert within_deadline(lambda: api.get("/v1/models").status_code, 200) == 200
        # The token works again; the ended session does not come back, a new sign-in does.
        assert ui_experiments(browser) == 401
        with ui_session(lab_endpoints, ca_file, oidc_user.sub) as again:
            assert within_deadline(lambda: ui_experiments(again), 200) == 200


def test_a_demoted_users_oidc_token_loses_the_writes_of_its_old_role(
    oidc_user: OidcUser, edge: Callable[[str], httpx.Client]
) -> None:
    with edge(oidc_user.token) as api:

        def create_experiment() -> int:
            body = {"name": f"lab-oidc-{uuid.uuid4().hex[:8]}"}
            return api.post("/mlflow/api/2.0/mlflow/experiments/create", json=body).status_code

        assert create_experiment() == 200  # a data scientist's write
        oidc_user.change(role="viewer")
        # The token still says data-scientist; its directory entry is a viewer now, and so is the token.
        assert within_deadline(create_experiment, 403) == 403
        assert api.get("/mlflow/api/2.0/mlflow/experiments/search", params={"max_results": 1}).status_code == 200
