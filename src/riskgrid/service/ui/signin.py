"""Sign-in (OIDC authorization code + PKCE) and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from riskgrid.service.deps import services
from riskgrid.service.ui import oidc
from riskgrid.service.ui.pages import check_csrf, page, signed_in
from riskgrid.service.ui.sessions import COOKIE, LOGIN_COOKIE, LOGIN_SECONDS, Session
from riskgrid.service.ui.web import UiError, render, secure_cookies, session_caller, store

router = APIRouter()


def _endpoints(request: Request) -> tuple[str, str, str]:
    """(authorization endpoint, token endpoint, our redirect URI)."""
    settings = services(request).settings
    base = str(request.base_url).rstrip("/")
    authorize = settings.oidc_authorize_url
    token = settings.oidc_token_url
    if settings.dev_mode:  # the dev issuer of riskgrid serve --dev (service/devissuer.py)
        authorize = authorize or "/dev/oidc/authorize"
        token = token or f"{base}/dev/oidc/token"
    if not authorize or not token:
        raise UiError(
            503,
            "The console's sign-in is not configured: set RISKGRID_OIDC_AUTHORIZE_URL and "
            "RISKGRID_OIDC_TOKEN_URL.",
        )
    return authorize, token, f"{base}/ui/callback"


_MESSAGES = {"signed-out": "You have signed out.", "expired": "Your session has expired."}


@router.get("/login")
@page
def login_page(request: Request, m: Annotated[str, Query(max_length=20)] = "") -> Response:
    return render(request, "login.html", message=_MESSAGES.get(m, ""))


@router.get("/login/start")
@page
def login_start(request: Request) -> Response:
    authorize, _, redirect_uri = _endpoints(request)
    try:
        login = store(request).begin_login()
    except OverflowError:
        raise UiError(503, "Too many sign-ins in progress; try again shortly.") from None
    settings = services(request).settings
    url = oidc.authorize_url(
        authorize,
        client_id=settings.oidc_client_id,
        redirect_uri=redirect_uri,
        state=login.state,
        verifier=login.verifier,
    )
    resp = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    resp.set_cookie(
        LOGIN_COOKIE,
        login.id,
        max_age=int(LOGIN_SECONDS),
        path="/ui",
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",  # the issuer's redirect back is a top-level cross-site GET
    )
    return resp


@router.get("/callback")
@page
def callback(
    request: Request,
    code: Annotated[str, Query(max_length=512)] = "",
    state: Annotated[str, Query(max_length=256)] = "",
    error: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    svc = services(request)
    login = store(request).finish_login(request.cookies.get(LOGIN_COOKIE), state)
    if error:
        raise UiError(401, f"The identity provider refused the sign-in: {error}")
    if login is None or not code:
        raise UiError(400, "This sign-in is stale or was not started here. Sign in again.")
    _, token_url, redirect_uri = _endpoints(request)
    try:
        token = oidc.exchange(
            token_url,
            code=code,
            verifier=login.verifier,
            client_id=svc.settings.oidc_client_id,
            redirect_uri=redirect_uri,
        )
    except oidc.SignInError as exc:
        raise UiError(401, f"Sign-in failed: {exc}") from None
    session = Session("", token, "", "", 0.0)
    c = session_caller(request, session)  # the API's verification, rate limit, audit
    import jwt

    exp = float(jwt.decode(token, options={"verify_signature": False})["exp"])  # verified above
    try:
        session = store(request).create(
            token, c.principal.subject, exp, svc.settings.ui_session_seconds
        )
    except OverflowError:
        raise UiError(503, "Too many sessions; try again shortly.") from None
    c.audit("ui.signin", "allow", detail={"expires": int(session.expires_at)})
    resp = RedirectResponse("/ui/jobs", status_code=303, headers={"Cache-Control": "no-store"})
    resp.delete_cookie(LOGIN_COOKIE, path="/ui")
    resp.set_cookie(
        COOKIE,
        session.id,
        path="/ui",
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",
    )
    return resp


@router.post("/logout")
@page
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    session, c = signed_in(request)
    check_csrf(request, session, c, csrf)
    store(request).end(session.id)
    c.audit("ui.signout", "allow")
    resp = RedirectResponse("/ui/login?m=signed-out", status_code=303)
    resp.delete_cookie(COOKIE, path="/ui")
    return resp
