"""Rendering, security headers and sessions shared by every console route."""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials

from riskgrid.service.deps import ApiError, Caller, authenticate, services
from riskgrid.service.ui.sessions import COOKIE, Session, SessionStore

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent
STATIC = HERE / "static"

#: No inline script or style anywhere; scripts, styles and images from this origin only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class UiError(Exception):
    """A console page that must answer with an error status and a message."""

    def __init__(self, status: int, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []


@lru_cache(maxsize=1)
def env() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    e = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every value is escaped unless a template says otherwise (none do)
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    e.filters["num"] = fmt_num
    e.filters["pct"] = lambda v: "" if v is None else f"{float(v):.1%}"
    e.globals["asset"] = asset_url
    return e


def fmt_num(value: Any, digits: int = 2) -> str:
    """Thousands separators, fixed decimals; blanks for missing values."""
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "NaN"
    return f"{v:,.{digits}f}"


@lru_cache(maxsize=16)
def asset_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """Versioned by content, so the asset can be cached for a year."""
    return f"/ui/static/{name}?v={asset_version(name)}"


def store(request: Request) -> SessionStore:
    app = request.app
    if not hasattr(app.state, "ui_sessions"):
        app.state.ui_sessions = SessionStore()
    return app.state.ui_sessions


def threat_cache(request: Request) -> Any:
    """The posture page's cache of the threat-model assessment (one per app)."""
    from riskgrid.service.ui.posture import ThreatCache

    app = request.app
    if not hasattr(app.state, "ui_threats"):
        app.state.ui_threats = ThreatCache()
    return app.state.ui_threats


def secure_cookies(request: Request) -> bool:
    """Secure under TLS, and always outside dev mode (a production console is served over
    TLS, often terminated by a proxy the server sees as plain HTTP)."""
    return request.url.scheme == "https" or not services(request).settings.dev_mode


def render(
    request: Request,
    template: str,
    code: int = 200,
    *,
    session: Session | None = None,
    me: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    svc = services(request)
    body = (
        env()
        .get_template(template)
        .render(
            session=session,
            me=me,
            dev_mode=svc.settings.dev_mode,
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(body, status_code=code, headers=PAGE_HEADERS)


def current(request: Request) -> tuple[Session | None, bool]:
    return store(request).get(request.cookies.get(COOKIE))


def session_caller(request: Request, session: Session) -> Caller:
    """The session's token through the API's own authentication and rate limiting."""
    creds = HTTPAuthorizationCredentials(scheme="Bearer", credentials=session.token)
    try:
        return authenticate(request, creds)
    except ApiError as exc:
        if exc.status == 401:
            store(request).end(session.id)
            raise UiError(401, "Your session has expired. Sign in again.") from None
        raise
