"""Token verification: algorithms, claims, JWKS caching and key rotation."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from riskgrid.service.auth import AuthError, JwksCache, TokenVerifier

ISS, AUD = "https://idp.example", "riskgrid"


def _jwk(key, kid: str, alg: str) -> dict:
    pub = key.public_key()
    algo = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    d = json.loads(algo.to_jwk(pub))
    d.update(kid=kid, alg=alg, use="sig")
    return d


def _claims(**over: object) -> dict:
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "alice", "groups": ["g1"], "iat": now, "exp": now + 300}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


@pytest.fixture
def keys():
    return {
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture
def jwks_file(tmp_path: Path, keys) -> Path:
    p = tmp_path / "jwks.json"
    p.write_text(
        json.dumps({"keys": [_jwk(keys["ec"], "ec1", "ES256"), _jwk(keys["rsa"], "rsa1", "RS256")]})
    )
    return p


def _verifier(source: str, **kw) -> TokenVerifier:
    return TokenVerifier(issuer=ISS, audience=AUD, jwks=JwksCache(source, **kw), leeway_seconds=5)


def test_valid_es256_and_rs256_tokens(jwks_file, keys):
    v = _verifier(str(jwks_file))
    p = v.verify(jwt.encode(_claims(), keys["ec"], "ES256", headers={"kid": "ec1"}))
    assert p.subject == "alice" and p.groups == frozenset({"g1"})
    p = v.verify(jwt.encode(_claims(sub="bob"), keys["rsa"], "RS256", headers={"kid": "rsa1"}))
    assert p.subject == "bob"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_is_rejected(jwks_file):
    header = _b64(json.dumps({"alg": "none", "kid": "ec1", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    with pytest.raises(AuthError, match="algorithm not allowed"):
        _verifier(str(jwks_file)).verify(f"{header}.{body}.")


def test_hmac_signed_with_the_public_key_is_rejected(jwks_file, keys):
    import hashlib
    import hmac

    pem = (
        keys["rsa"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64(json.dumps({"alg": "HS256", "kid": "rsa1", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    sig = _b64(hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(AuthError, match="algorithm not allowed"):
        _verifier(str(jwks_file)).verify(f"{header}.{body}.{sig}")


def test_algorithm_must_match_key_type(jwks_file, keys):
    # an ES256 header pointing at the RSA key: refused before any signature check
    token = jwt.encode(_claims(), keys["ec"], "ES256", headers={"kid": "rsa1"})
    with pytest.raises(AuthError, match="does not match"):
        _verifier(str(jwks_file)).verify(token)


# Times are offsets from *now* at run time: values computed at collection go stale when the
# suite takes longer than the offset before it reaches this test.
_NOW = object()


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": (_NOW, -60)}, "expired"),
        ({"nbf": (_NOW, 120)}, "not yet valid"),
        ({"iat": (_NOW, 120)}, "not yet valid|future"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": None}, "invalid token"),
        ({"groups": "admins"}, "groups"),
    ],
)
def test_bad_claims_are_rejected(jwks_file, keys, claims, message):
    now = int(time.time())
    resolved = {
        k: now + v[1] if isinstance(v, tuple) and v[0] is _NOW else v for k, v in claims.items()
    }
    token = jwt.encode(_claims(**resolved), keys["ec"], "ES256", headers={"kid": "ec1"})
    with pytest.raises(AuthError, match=message):
        _verifier(str(jwks_file)).verify(token)


def test_small_leeway_accepts_just_expired(jwks_file, keys):
    token = jwt.encode(
        _claims(exp=int(time.time()) - 2), keys["ec"], "ES256", headers={"kid": "ec1"}
    )
    assert _verifier(str(jwks_file)).verify(token).subject == "alice"


def test_bad_signature_and_garbage(jwks_file, keys):
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthError, match="invalid token"):
        _verifier(str(jwks_file)).verify(
            jwt.encode(_claims(), other, "ES256", headers={"kid": "ec1"})
        )
    with pytest.raises(AuthError, match="malformed"):
        _verifier(str(jwks_file)).verify("not-a-jwt")


def test_key_rotation_refetches_once_and_is_rate_limited(tmp_path, keys):
    now = [1000.0]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [_jwk(keys["ec"], "old", "ES256")]}))
    cache = JwksCache(str(path), ttl_seconds=3600, min_refetch_seconds=10, clock=lambda: now[0])
    v = TokenVerifier(issuer=ISS, audience=AUD, jwks=cache)
    assert v.verify(jwt.encode(_claims(), keys["ec"], "ES256", headers={"kid": "old"}))
    assert cache.fetches == 1

    new = ec.generate_private_key(ec.SECP256R1())
    path.write_text(json.dumps({"keys": [_jwk(new, "new", "ES256")]}))
    token = jwt.encode(_claims(), new, "ES256", headers={"kid": "new"})
    with pytest.raises(AuthError, match="unknown key"):  # within min_refetch: no refetch
        v.verify(token)
    assert cache.fetches == 1
    now[0] += 11
    assert v.verify(token).subject == "alice"  # unknown kid → one refetch picks up rotation
    assert cache.fetches == 2
    # a flood of unknown kids does not hammer the IdP
    bogus = jwt.encode(_claims(), new, "ES256", headers={"kid": "bogus"})
    for _ in range(20):
        with pytest.raises(AuthError):
            v.verify(bogus)
    assert cache.fetches == 2


def test_jwks_by_url_from_a_live_loopback_server(keys):
    body = json.dumps({"keys": [_jwk(keys["rsa"], "r", "RS256")]}).encode()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        v = _verifier(f"http://127.0.0.1:{srv.server_port}/jwks")
        tok = jwt.encode(_claims(), keys["rsa"], "RS256", headers={"kid": "r"})
        assert v.verify(tok).subject == "alice"
        assert v.verify(tok).subject == "alice"
        assert hits == ["/jwks"]  # cached
    finally:
        srv.shutdown()


def test_jwks_keys_for_forbidden_algorithms_are_ignored(tmp_path, keys):
    secret = {
        "kty": "oct",
        "k": _b64(b"secret-secret-secret-secret-0123"),
        "kid": "h",
        "alg": "HS256",
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [secret]}))
    token = jwt.encode(
        _claims(), b"secret-secret-secret-secret-0123", "HS256", headers={"kid": "h"}
    )
    with pytest.raises(AuthError, match="algorithm not allowed"):
        _verifier(str(path)).verify(token)
    assert JwksCache(str(path))._load() == {}
