"""Bearer-token authentication: OIDC JWTs checked against an issuer, audience and JWKS.

Only asymmetric algorithms are accepted (RS256, ES256), and the key's type must match the
token's declared algorithm, so neither ``alg: none`` nor HMAC-signed-with-the-public-key tokens
get through. Keys come from a JWKS file or URL, cached; a token naming an unknown ``kid`` makes
the cache refetch once (rate-limited), which is how key rotation is picked up.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ALLOWED_ALGORITHMS: dict[str, type[rsa.RSAPublicKey] | type[ec.EllipticCurvePublicKey]] = {
    "RS256": rsa.RSAPublicKey,
    "ES256": ec.EllipticCurvePublicKey,
}


class AuthError(Exception):
    """The request is not authenticated; the message is safe to show (never holds the token)."""


class KeysUnavailable(AuthError):
    """No usable signing keys at all: the identity provider's fault, not the caller's (503)."""


#: Longest token lifetime accepted (exp - iat), whatever the issuer says.
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600


def _numeric_date(value: Any) -> TypeGuard[int | float]:
    """A JSON number (not a string, not a boolean), finite."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float("inf")
    )


def parse_jwks(doc: Any) -> dict[str, Any]:
    """Usable keys of a JWKS document by kid; a malformed document raises ValueError.

    Individual keys that are unusable (forbidden algorithm, bad parameters) are skipped; a
    document that is not ``{"keys": [objects…]}`` is an error, so that the cache keeps the keys
    it has rather than replacing them with nothing.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("JWKS is not an object with a 'keys' array")
    keys: dict[str, Any] = {}
    for raw in doc["keys"]:
        if not isinstance(raw, dict):
            raise ValueError("JWKS 'keys' holds something other than key objects")
        alg = raw.get("alg")
        if alg is not None and alg not in ALLOWED_ALGORITHMS:
            continue  # a key published for a forbidden algorithm is never usable
        kid = raw.get("kid", "")
        if not isinstance(kid, str):
            continue
        try:
            jwk = jwt.PyJWK(raw)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        keys[kid] = jwk.key
    return keys


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and group claims."""

    subject: str
    groups: frozenset[str] = field(default_factory=frozenset)


class JwksCache:
    """Signing keys by ``kid`` from a JWKS document, refreshed on expiry or unknown kid."""

    def __init__(
        self,
        source: str,
        *,
        ttl_seconds: float = 300.0,
        min_refetch_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.ttl = ttl_seconds
        self.min_refetch = min_refetch_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self.fetches = 0

    def _load(self) -> dict[str, Any]:
        if self.source.startswith(("https://", "http://")):
            resp = httpx.get(self.source, timeout=5.0)
            resp.raise_for_status()
            doc = resp.json()
        else:
            doc = json.loads(Path(self.source).read_text())
        return parse_jwks(doc)

    def _refresh(self) -> None:
        try:
            keys = self._load()
        except (OSError, ValueError, httpx.HTTPError) as exc:
            # keep serving the keys we have; the failure is the IdP's, not the caller's
            if not self._keys:
                raise KeysUnavailable(
                    f"signing keys unavailable: {type(exc).__name__}: {str(exc)[:120]}"
                ) from None
            self._fetched_at = self._clock()
            return
        self._keys = keys
        self._fetched_at = self._clock()
        self.fetches += 1

    def peek(self, kid: str) -> Any:
        """The key for ``kid`` if the cached key set is fresh, else None; never fetches (safe
        to call on the event loop)."""
        with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at > self.ttl:
                return None
            return self._keys.get(kid)

    def key(self, kid: str) -> Any:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at > self.ttl:
                self._refresh()
            if kid not in self._keys and (
                self._fetched_at is None or now - self._fetched_at >= self.min_refetch
            ):
                self._refresh()  # maybe the IdP rotated keys; ask once, not per request
            try:
                return self._keys[kid]
            except KeyError:
                raise AuthError("token signed by an unknown key") from None


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal` or raises :class:`AuthError`."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksCache,
        leeway_seconds: float = 30.0,
        groups_claim: str = "groups",
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.leeway = leeway_seconds
        self.groups_claim = groups_claim
        self.cache_size = cache_size
        self._clock = clock
        # token -> (principal, exp, kid, key): a verified signature, remembered until exp
        self._verified: OrderedDict[str, tuple[Principal, float, str, Any]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified before, still within ``exp``, whose key the fresh
        key set still publishes; None when that cannot be said without I/O or a signature
        check (then call :meth:`verify`). Never blocks: the event loop may call it."""
        with self._cache_lock:
            hit = self._verified.get(token)
        if hit is None:
            return None
        principal, exp, kid, key = hit
        if self._clock() >= exp + self.leeway or self.jwks.peek(kid) is not key:
            return None
        return principal

    def verify(self, token: str) -> Principal:
        """The token's principal; a token verified before is not verified again until its
        ``exp`` (keyed on the whole token, so any changed byte is a miss), as long as the key
        that verified it is still the one the key set publishes for its ``kid``: a key rotated
        out or refreshed away makes every token it verified go through full verification."""
        with self._cache_lock:
            hit = self._verified.get(token)
            if hit is not None:
                self._verified.move_to_end(token)
        if hit is not None:
            principal, exp, kid, key = hit
            if self._clock() >= exp + self.leeway:
                with self._cache_lock:
                    self._verified.pop(token, None)
                raise AuthError("token expired")
            try:
                current = self.jwks.key(kid)
            except AuthError:
                current = None
            if current is key:
                return principal
            with self._cache_lock:
                self._verified.pop(token, None)
        principal, exp, kid, key = self._verify(token)
        with self._cache_lock:
            self._verified[token] = (principal, float(exp), kid, key)
            while len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float, str, Any]:
        """Full verification: header, key, signature, claims."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthError("token has no key id")
        key = self.jwks.key(kid)
        if not isinstance(key, ALLOWED_ALGORITHMS[alg]):
            raise AuthError("token algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer not accepted") from None
        except jwt.PyJWTError:
            raise AuthError("invalid token") from None
        iat, exp = claims.get("iat"), claims.get("exp")
        if not _numeric_date(iat) or iat > self._clock() + self.leeway:
            raise AuthError("token iat claim invalid or in the future")
        # PyJWT accepts a numeric string or 1e30 as exp; neither is a real expiry
        if not _numeric_date(exp) or exp - iat > MAX_TOKEN_LIFETIME_SECONDS:
            raise AuthError(
                f"token exp claim invalid: must be a number at most "
                f"{MAX_TOKEN_LIFETIME_SECONDS}s after iat"
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 256:
            raise AuthError("token subject invalid")
        groups = claims.get(self.groups_claim, [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise AuthError("token groups claim invalid")
        return Principal(subject=sub, groups=frozenset(groups)), float(exp), kid, key
