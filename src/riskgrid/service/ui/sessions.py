"""Console sessions and sign-ins in progress, kept on the server.

The browser holds only a random session id (cookie: HttpOnly, SameSite=Lax, Secure under TLS);
the access token stays here. A session ends at the earliest of: sign-out, the token's own
``exp``, or ``ui_session_seconds`` after sign-in — no leeway, unlike token verification. Each
session has its own CSRF token, compared in constant time on every state-changing form.

In memory, per process: a restart signs everyone out, and replicas behind a load balancer need
sticky sessions (docs/console.md).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "riskgrid_session"
LOGIN_COOKIE = "riskgrid_login"
LOGIN_SECONDS = 600.0
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    id: str
    token: str
    subject: str
    csrf: str
    expires_at: float  # wall clock (the token's exp is wall clock too)

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(self.csrf, str(value))


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in between the redirect to the issuer and the callback (state + PKCE)."""

    id: str
    state: str
    verifier: str
    expires_at: float


class SessionStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._logins: dict[str, PendingLogin] = {}

    def _sweep(self, now: float) -> None:
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
        self._logins = {k: p for k, p in self._logins.items() if p.expires_at > now}

    def begin_login(self) -> PendingLogin:
        now = time.time()
        login = PendingLogin(
            id=secrets.token_urlsafe(32),
            state=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64)[:96],
            expires_at=now + LOGIN_SECONDS,
        )
        with self._lock:
            self._sweep(now)
            if len(self._logins) >= MAX_SESSIONS:
                raise OverflowError("too many sign-ins in progress")
            self._logins[login.id] = login
        return login

    def finish_login(self, login_id: str | None, state: str | None) -> PendingLogin | None:
        """The pending sign-in whose state matches (removed either way: single use)."""
        if not login_id:
            return None
        with self._lock:
            login = self._logins.pop(login_id, None)
        if login is None or login.expires_at <= time.time():
            return None
        if not state or not hmac.compare_digest(login.state, state):
            return None
        return login

    def create(self, token: str, subject: str, token_exp: float, max_seconds: float) -> Session:
        now = time.time()
        session = Session(
            id=secrets.token_urlsafe(32),
            token=token,
            subject=subject,
            csrf=secrets.token_urlsafe(32),
            expires_at=min(token_exp, now + max_seconds),
        )
        with self._lock:
            self._sweep(now)
            if len(self._sessions) >= MAX_SESSIONS:
                raise OverflowError("too many sessions")
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> tuple[Session | None, bool]:
        """(session, expired): an id that named a session now expired says so once."""
        if not session_id:
            return None, False
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires_at <= time.time():
                del self._sessions[session_id]
                return None, True
        return session, False

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)
