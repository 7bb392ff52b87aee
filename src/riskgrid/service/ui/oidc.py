"""The console's side of OIDC: authorization code + PKCE (RFC 6749 §4.1, RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import httpx

TOKEN_TIMEOUT_SECONDS = 10.0


class SignInError(Exception):
    """The issuer refused or failed the code exchange; the message is safe to show."""


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(endpoint: str, *, client_id: str, redirect_uri: str, state: str, verifier: str):
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": state,
            "code_challenge": challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint}?{query}"


def exchange(endpoint: str, *, code: str, verifier: str, client_id: str, redirect_uri: str) -> str:
    """POST the code and verifier to the token endpoint; the access token (a JWT)."""
    try:
        resp = httpx.post(
            endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
            timeout=TOKEN_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise SignInError(f"token endpoint unreachable: {type(exc).__name__}") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise SignInError(f"token request refused ({resp.status_code} {error or ''})".strip())
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise SignInError("token response has no access_token")
    return token
