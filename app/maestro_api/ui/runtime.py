"""The UI's process-wide objects and its one credential: the browser session.

- ``ui_lifespan``: with ``MAESTRO_UI_ORIGIN`` set, creates the session store and the OIDC relying party on the
  serving loop (``app.state.ui``); unset, the UI's paths answer 404.
- ``session_principal``: the principal of a UI request. It refuses a cross-site state-changing request first
  (``check_same_origin``), then reads the session cookie (never an ``Authorization`` header, and never an API key:
  a cookie only names a server-side session), rebuilds the principal from the session's claims with the API's
  rules and counts the request against the tenant's rate limits.
- ``SESSION_AUTH``: FastAPI's dependency overrides for the UI's router: wherever a route depends on the API's
  ``get_current_principal`` (the client proxy's endpoints, ``Authorize``), the UI's routes run
  ``session_principal`` instead. So the UI reuses the proxy's endpoints and RBAC checks unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from fastapi import FastAPI, Request

from maestro_api.api.deps import get_current_principal
from maestro_api.core.config import Settings
from maestro_api.core.errors import ProblemError
from maestro_api.core.lifecycle import register_lifespan
from maestro_api.core.security import Principal, unauthorized
from maestro_api.ui.oidc import RelyingParty
from maestro_api.ui.session import SESSION_COOKIE, SessionStore

SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class UiRuntime:
    """The UI of one process: its public origin, its sessions and its client at the identity provider."""

    origin: str
    sessions: SessionStore
    relying_party: RelyingParty


@asynccontextmanager
async def ui_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.ui = None
    if settings.ui_origin:
        app.state.ui = UiRuntime(
            origin=settings.ui_origin.rstrip("/"),
            sessions=SessionStore(
                redis=app.state.redis,
                lifetime_seconds=settings.ui_session_lifetime_seconds,
                idle_seconds=settings.ui_session_idle_seconds,
            ),
            relying_party=RelyingParty(settings=settings, http=app.state.http),
        )
    yield


register_lifespan(ui_lifespan)


def ui_runtime(request: Request) -> UiRuntime:
    """The UI of this process; 404 when it is not enabled (``MAESTRO_UI_ORIGIN`` unset)."""
    ui: UiRuntime | None = getattr(request.app.state, "ui", None)
    if ui is None:
        raise ProblemError(404, "Not Found", "The web UI is not enabled on this server.")
    return ui


def cross_site() -> ProblemError:
    return ProblemError(403, "Forbidden", "Cross-site request refused: send it from the UI's own pages.")


def check_same_origin(request: Request, origin: str) -> None:
    """Refuse a state-changing request that does not come from the UI's own origin (CSRF), on top of the session
    cookie's SameSite=Lax: its ``Origin`` must be the UI's, and ``Sec-Fetch-Site``, when the browser sends it,
    ``same-origin``. Browsers send ``Origin`` on every POST, PUT, PATCH and DELETE, so a missing one is refused."""
    if request.method in SAFE_METHODS:
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise cross_site()
    if request.headers.get("origin") != origin:
        raise cross_site()


async def signed_in(request: Request, ui: UiRuntime) -> Principal:
    """The principal of the request's session cookie, or a 401 (no cookie, unknown, idle or ended session, or
    claims the API no longer accepts: a suspended tenant, a disabled user, which also ends the session)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise unauthorized("missing", "Sign in at /mlflow/ first.", error="")
    session = await ui.sessions.load(session_id)
    if session is None:
        raise unauthorized("session_ended", "The session has ended; sign in again at /mlflow/.")
    try:
        principal: Principal = await request.app.state.authenticator.principal_from_claims(session.claims)
    except ProblemError as exc:
        # Claims the API no longer accepts end the session for good: enabling the user or the tenant again later
        # asks for a new sign-in rather than bringing this session back.
        if exc.status == 401:
            await ui.sessions.end(session_id)
        raise
    request.state.principal = principal
    return principal


async def session_principal(request: Request) -> Principal:
    """The UI's credential (see the module docstring); rate-limited like the API's."""
    ui = ui_runtime(request)
    check_same_origin(request, ui.origin)
    principal = await signed_in(request, ui)
    await request.app.state.rate_limiter.check(principal)
    return principal


SESSION_AUTH = SimpleNamespace(dependency_overrides={get_current_principal: session_principal})
"""The UI router's dependency overrides (``APIRouter(dependency_overrides_provider=...)``)."""
