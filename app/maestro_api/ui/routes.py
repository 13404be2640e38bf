"""The MLflow web UI under ``/mlflow``: its page, static files, REST and GraphQL calls, sign-in and sign-out.

Every route here is on one router whose dependency overrides (``ui.runtime.SESSION_AUTH``) make the browser
session its credential. The REST calls are the client proxy's own endpoints (``ui.table.PROXIED``); the rest is
``ui.table.UI_ROUTES`` plus the three ``oauth/`` routes of the sign-in (``docs/ui.md``):

- ``GET oauth/login``: a new sign-in at the identity provider (state, nonce, PKCE), bound to this browser;
- ``GET oauth/callback``: the provider's answer; the code is traded, the ID token verified, a session started;
- ``GET oauth/logout`` shows a sign-out button, ``POST oauth/logout`` ends the session at once.

Responses keep the API's security headers, except where the UI needs its own (``core.http.OWN_VALUE_WINS``): the
page's Content-Security-Policy (``PAGE_CSP``, as strict as MLflow's UI allows) and referrer policy, and the static
files' long-lived, immutable caching.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from maestro_api.api.deps import Authorize, CurrentPrincipal, Requirement
from maestro_api.api.routes import mlflow_proxy
from maestro_api.core.errors import ProblemError
from maestro_api.mlflow_proxy import guards
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.mlflow_proxy.forward import MlflowForwarder
from maestro_api.mlflow_proxy.runtime import MlflowRoute, get_forwarder, tenant_workspace
from maestro_api.ui import graphql
from maestro_api.ui.runtime import SESSION_AUTH, check_same_origin, signed_in, ui_runtime
from maestro_api.ui.session import LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE, clear_cookie, set_cookie
from maestro_api.ui.table import PROXIED, UI_ROUTES, UiRoute, ui_path

HOME = "/mlflow/"
LOGIN = "/mlflow/oauth/login"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; frame-src 'self' blob:; "
    "media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The UI page's policy: its own scripts only (no inline script, no eval); inline styles, which MLflow's
CSS-in-JS components write at run time; images, fonts and previews from the page's origin, data: and blob: URLs
(artifact previews); requests to its own origin only; never framed."""
FORM_CSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, max-age=3600"
HASHED = re.compile(r"\.[0-9a-f]{8,}\.")
_STATIC_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_VERSION = re.compile(r"^[0-9]{1,10}$")
SERVER_INFO = (
    b'{"store_type": "SqlStore", "workspaces_enabled": false, "trace_archival_enabled": false, '
    b'"multipart_uploads_enabled": false, "multipart_downloads_enabled": false, '
    b'"presigned_upload_run_id_supported": false, "presigned_upload_model_id_supported": false, '
    b'"features_enabled": {"gateway": false}}'
)
"""What the UI learns about the server: one tenant's view, so no workspaces (the tenant's is implied), and none of
the features the allow list does not serve."""

ForwarderDep = Annotated[MlflowForwarder, Depends(get_forwarder)]


class UiApiRoute(MlflowRoute):
    """A route of the web UI: errors in MLflow's shape (what the UI reads), the browser session as credential."""


router = APIRouter(route_class=UiApiRoute, dependency_overrides_provider=SESSION_AUTH)


def _invalid(name: str) -> MlflowApiError:
    return MlflowApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid value for parameter {name!r}.")


def _checked(name: str, value: str, check: str) -> str:
    if check == "artifact_path":
        return guards.check_artifact_path(value)
    ok = {
        "run_id": bool(_RUN_ID.match(value)),
        "version": bool(_VERSION.match(value)),
        "model_name": 0 < len(value) <= 256 and value.isprintable(),
    }[check]
    if not ok:
        raise _invalid(name)
    return value


def _page(title: str, text: str, *, status: int, link: tuple[str, str] | None = None, form: str = "") -> Response:
    """A minimal HTML page (sign-in errors, sign-out): no script, no style."""
    anchor = f'<p><a href="{link[0]}">{html.escape(link[1])}</a></p>' if link else ""
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{form}{anchor}</body></html>"
    )
    headers = {"content-security-policy": FORM_CSP, "referrer-policy": "same-origin"}
    return Response(body, status_code=status, media_type="text/html", headers=headers)


# --- MLflow's REST calls: the client proxy's endpoints ----------------------------------------------------------
_CLIENT_ROUTES = {
    (route.path, method): route
    for route in mlflow_proxy.router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}
for _spec in PROXIED:
    _route = _CLIENT_ROUTES["/" + _spec.path, _spec.method]
    router.add_api_route(
        "/" + ui_path(_spec),
        _route.endpoint,
        methods=[_spec.method],
        dependencies=_route.dependencies,
        name=f"ui {_spec.name}",
        include_in_schema=False,
    )


# --- what only the UI calls --------------------------------------------------------------------------------------
Endpoint = Callable[..., Awaitable[Response]]


def _endpoint(spec: UiRoute) -> Endpoint:
    async def page(request: Request, forwarder: ForwarderDep) -> Response:
        ui = ui_runtime(request)
        try:
            principal = await signed_in(request, ui)
        except ProblemError as exc:
            if exc.status != 401:
                raise
            return RedirectResponse(LOGIN, status_code=302, headers={"cache-control": "no-store"})
        await request.app.state.rate_limiter.check(principal)
        workspace = await tenant_workspace(request, principal.tenant_id)
        response = await forwarder.get_stream(path=spec.upstream, query="", workspace=workspace, route="ui page")
        response.headers.update(
            {"content-security-policy": PAGE_CSP, "referrer-policy": "same-origin", "cache-control": "no-store"}
        )
        return response

    async def static(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        file_path = str(request.path_params.get("file_path", ""))
        if not _STATIC_FILE.match(file_path) or len(file_path) > 256:
            raise MlflowApiError(404, "RESOURCE_DOES_NOT_EXIST", "No such file.")
        workspace = await tenant_workspace(request, principal.tenant_id)
        response = await forwarder.get_stream(
            path=spec.upstream + file_path, query="", workspace=workspace, route="ui static"
        )
        # Hashed names (static/js/main.<hash>.js) never change content: the browser keeps them for a year.
        response.headers["cache-control"] = IMMUTABLE if HASHED.search(file_path) else REVALIDATE
        return response

    async def server_info(request: Request, principal: CurrentPrincipal) -> Response:
        return Response(SERVER_INFO, media_type="application/json")

    async def query(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        checked = graphql.check_query(await request.body())
        for permission in sorted(checked.permissions):
            await Requirement(permission).check(request, principal)
        workspace = await tenant_workspace(request, principal.tenant_id)
        answer = await forwarder.json_call(
            method="POST", path="/graphql", query="", body=checked.body, workspace=workspace, route="ui graphql"
        )
        return Response(checked.scrub(bytes(answer.body)), media_type="application/json")

    async def artifact(request: Request, principal: CurrentPrincipal, forwarder: ForwarderDep) -> Response:
        values = {name: _checked(name, request.query_params[name], check) for name, check in spec.params.items()
                  if name in request.query_params}  # fmt: skip
        upstream = spec.upstream.format(
            **{k: _checked(k, str(v), "artifact_path") for k, v in request.path_params.items()}
        )
        workspace = await tenant_workspace(request, principal.tenant_id)
        return await forwarder.get_stream(
            path=upstream, query=urlencode(values), workspace=workspace, route=f"ui {spec.method} {spec.path}"
        )

    endpoints: dict[str, Endpoint] = {
        "page": page,
        "static": static,
        "server_info": server_info,
        "graphql": query,
        "artifact": artifact,
    }
    return endpoints[spec.kind]


for _ui in UI_ROUTES:
    router.add_api_route(
        "/" + _ui.path,
        _endpoint(_ui),
        methods=[_ui.method],
        dependencies=[Authorize(_ui.permission)] if _ui.permission else [],
        name=f"ui {_ui.method} {_ui.path or '/'}",
        include_in_schema=False,
    )


# --- sign-in and sign-out ----------------------------------------------------------------------------------------
@router.get("/oauth/login", include_in_schema=False, name="ui oauth login")
async def login(request: Request) -> Response:
    ui = ui_runtime(request)
    sign_in = await ui.relying_party.authorization_url()
    cookie = await ui.sessions.start_login(state=sign_in.state, nonce=sign_in.nonce, verifier=sign_in.verifier)
    response = RedirectResponse(sign_in.url, status_code=302, headers={"cache-control": "no-store"})
    set_cookie(response, LOGIN_COOKIE, cookie, max_age=LOGIN_SECONDS)
    return response


@router.get("/oauth/callback", include_in_schema=False, name="ui oauth callback")
async def callback(request: Request) -> Response:
    ui = ui_runtime(request)
    again = (LOGIN, "Sign in again")
    params = request.query_params
    state, code = params.get("state", ""), params.get("code", "")
    if params.get("error") or not state or not code:
        return _page("Sign-in refused", "The identity provider did not sign you in.", status=401, link=again)
    pending = await ui.sessions.finish_login(state)
    if pending is None or not pending.started_by(request.cookies.get(LOGIN_COOKIE)):
        return _page(
            "Sign-in expired", "This sign-in was not started in this browser, or it expired.", status=400, link=again
        )
    try:
        claims = await ui.relying_party.exchange(code=code, verifier=pending.verifier, nonce=pending.nonce)
        await request.app.state.authenticator.principal_from_claims(claims)
    except ProblemError as exc:
        return _page("Sign-in refused", exc.detail or exc.title, status=exc.status, link=again)
    settings = request.app.state.settings
    keep = {k: claims[k] for k in ("sub", settings.oidc_tenant_claim, settings.oidc_role_claim) if k in claims}
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await ui.sessions.end(old)
    session_id = await ui.sessions.create(keep)
    response = RedirectResponse(HOME, status_code=303, headers={"cache-control": "no-store"})
    set_cookie(response, SESSION_COOKIE, session_id, max_age=ui.sessions.lifetime_seconds)
    clear_cookie(response, LOGIN_COOKIE)
    return response


@router.get("/oauth/logout", include_in_schema=False, name="ui oauth logout page")
async def logout_page(request: Request) -> Response:
    ui = ui_runtime(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or await ui.sessions.load(session_id) is None:
        return RedirectResponse(HOME, status_code=303, headers={"cache-control": "no-store"})
    form = '<form method="post" action="/mlflow/oauth/logout"><button type="submit">Sign out</button></form>'
    return _page("Sign out of Maestro", "End this browser's session.", status=200, form=form)


@router.post("/oauth/logout", include_in_schema=False, name="ui oauth logout")
async def logout(request: Request) -> Response:
    ui = ui_runtime(request)
    check_same_origin(request, ui.origin)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await ui.sessions.end(session_id)
    # Clear-Site-Data drops what the browser cached of the UI's pages and its storage, too.
    response = RedirectResponse(
        HOME, status_code=303, headers={"cache-control": "no-store", "clear-site-data": '"cache", "storage"'}
    )
    clear_cookie(response, SESSION_COOKIE)
    return response
