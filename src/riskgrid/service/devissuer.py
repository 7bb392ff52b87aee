"""Development mode's OIDC issuer: an authorization endpoint and a token endpoint.

DEV ONLY (mounted by ``riskgrid serve --dev`` alone). It lets the web console run the real
authorization-code + PKCE flow without an identity provider: the "sign-in" page asks for a
user name and groups — anyone who can reach it can become anyone, exactly like the dev signing
key on disk it mints tokens with (:func:`riskgrid.service.devkeys.mint_token`).

What it does check is what an identity provider checks: the client id, a redirect URI on this
server under ``/ui/``, an S256 code challenge, single-use codes that expire in a minute, and
that the token request's ``code_verifier`` hashes to the challenge and its ``redirect_uri``
matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from riskgrid.service.deps import services

CODE_SECONDS = 60.0
MAX_TTL_SECONDS = 3600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]{0,127}$")

router = APIRouter(prefix="/dev/oidc", include_in_schema=False)


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    user: str
    groups: tuple[str, ...]
    ttl: int
    expires: float


class _Codes:
    """Issued authorization codes: each redeemable once, for a minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}

    def issue(self, grant: _Grant) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._codes = {k: g for k, g in self._codes.items() if g.expires > now}
            self._codes[code] = grant
        return code

    def redeem(self, code: str) -> _Grant | None:
        with self._lock:
            grant = self._codes.pop(code, None)
        return grant if grant is not None and grant.expires > time.monotonic() else None


_codes = _Codes()


def s256(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect_ok(request: Request, redirect_uri: str) -> bool:
    """Only this server's console callback: a dev issuer must not be an open redirector."""
    parts = urlsplit(redirect_uri)
    own = urlsplit(str(request.base_url))
    return (
        parts.scheme == own.scheme
        and parts.netloc == own.netloc
        and parts.path == "/ui/callback"
        and not parts.query
        and not parts.fragment
    )


def _problem(status: int, message: str) -> HTMLResponse:
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>dev issuer</title></head>"
        f"<body><h1>Dev issuer: request refused</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=_HEADERS)


_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _check(request: Request, client_id: str, redirect_uri: str, challenge: str, method: str):
    expected = services(request).settings.oidc_client_id
    if not hmac.compare_digest(client_id, expected):
        return _problem(400, "unknown client_id")
    if not _redirect_ok(request, redirect_uri):
        return _problem(400, "redirect_uri must be this server's /ui/callback")
    if method != "S256" or not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge):
        return _problem(400, "PKCE required: code_challenge_method=S256 and a 43-char challenge")
    return None


@router.get("/authorize")
def authorize_form(
    request: Request,
    response_type: Annotated[str, Query(max_length=32)] = "",
    client_id: Annotated[str, Query(max_length=128)] = "",
    redirect_uri: Annotated[str, Query(max_length=512)] = "",
    state: Annotated[str, Query(max_length=256)] = "",
    code_challenge: Annotated[str, Query(max_length=128)] = "",
    code_challenge_method: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The dev "sign-in" page: pick a user and groups (DEV MODE: no password)."""
    if response_type != "code":
        return _problem(400, "response_type must be code")
    bad = _check(request, client_id, redirect_uri, code_challenge, code_challenge_method)
    if bad is not None:
        return bad
    e = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{e(v)}">'
        for k, v in (
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("state", state),
            ("code_challenge", code_challenge),
        )
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>riskgrid dev issuer — sign in</title></head><body>
<h1>riskgrid DEV issuer</h1>
<p><strong>Development mode: no password. Anyone who reaches this page can sign in as
anyone.</strong></p>
<form method="post" action="/dev/oidc/authorize">{hidden}
<p><label for="user">User</label> <input id="user" name="user" required maxlength="128"></p>
<p><label for="groups">Groups (comma-separated)</label>
<input id="groups" name="groups" maxlength="1000"></p>
<p><label for="ttl">Token lifetime (seconds)</label>
<input id="ttl" name="ttl" type="number" min="1" max="{MAX_TTL_SECONDS}" value="3600"></p>
<p><button type="submit" id="signin">Sign in</button></p>
</form></body></html>"""
    return HTMLResponse(page, headers=_HEADERS)


@router.post("/authorize")
def authorize(
    request: Request,
    client_id: Annotated[str, Form(max_length=128)],
    redirect_uri: Annotated[str, Form(max_length=512)],
    code_challenge: Annotated[str, Form(max_length=128)],
    user: Annotated[str, Form(max_length=128)],
    state: Annotated[str, Form(max_length=256)] = "",
    groups: Annotated[str, Form(max_length=1000)] = "",
    ttl: Annotated[int, Form(ge=1, le=MAX_TTL_SECONDS)] = 3600,
) -> Response:
    bad = _check(request, client_id, redirect_uri, code_challenge, "S256")
    if bad is not None:
        return bad
    names = [g.strip() for g in groups.split(",") if g.strip()]
    if not _NAME.match(user) or not all(_NAME.match(g) for g in names):
        return _problem(422, "user and groups: letters, digits, @ . _ - only")
    code = _codes.issue(
        _Grant(
            client_id=client_id,
            redirect_uri=redirect_uri,
            challenge=code_challenge,
            user=user,
            groups=tuple(names),
            ttl=ttl,
            expires=time.monotonic() + CODE_SECONDS,
        )
    )
    query = urlencode({"code": code, "state": state})
    return RedirectResponse(f"{redirect_uri}?{query}", status_code=303, headers=_HEADERS)


def _token_error(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=400,
        headers={"Cache-Control": "no-store"},
    )


@router.post("/token")
def token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=128)],
    redirect_uri: Annotated[str, Form(max_length=512)],
    client_id: Annotated[str, Form(max_length=128)],
    code_verifier: Annotated[str, Form(min_length=43, max_length=128)],
) -> JSONResponse:
    """RFC 6749 §4.1.3 token request with RFC 7636 PKCE verification."""
    from riskgrid.service.devkeys import mint_token

    if grant_type != "authorization_code":
        return _token_error("unsupported_grant_type", "authorization_code only")
    grant = _codes.redeem(code)
    if grant is None:
        return _token_error("invalid_grant", "unknown, used or expired code")
    if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
        return _token_error("invalid_grant", "client_id or redirect_uri does not match")
    if not hmac.compare_digest(s256(code_verifier), grant.challenge):
        return _token_error("invalid_grant", "code_verifier does not match the challenge")
    settings = services(request).settings
    jwt = mint_token(
        settings.dev_dir,
        grant.user,
        list(grant.groups),
        ttl_seconds=grant.ttl,
        issuer=str(settings.issuer),
        audience=str(settings.audience),
    )
    return JSONResponse(
        {"access_token": jwt, "token_type": "Bearer", "expires_in": grant.ttl, "id_token": jwt},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
