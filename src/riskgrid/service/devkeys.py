"""Development mode's local signing key and token minting.

The key lives under ``<state_dir>/dev/`` (0600). It exists so that a developer can try the
platform without an identity provider; the server marks every response made in this mode.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from riskgrid.service.settings import DEV_AUDIENCE, DEV_ISSUER

KEY_FILE = "signing-key.pem"
JWKS_FILE = "jwks.json"


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def ensure_dev_key(dev_dir: Path) -> ec.EllipticCurvePrivateKey:
    """Load the dev signing key, creating it (and its JWKS file) on first use."""
    dev_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = dev_dir / KEY_FILE
    if key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path}: not an EC private key")
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(key_path, pem)
    jwks_path = dev_dir / JWKS_FILE
    jwks = {"keys": [public_jwk(key)]}
    if not jwks_path.exists() or json.loads(jwks_path.read_text()) != jwks:
        tmp = jwks_path.with_name(JWKS_FILE + ".tmp")
        tmp.write_text(json.dumps(jwks, indent=2))
        os.replace(tmp, jwks_path)
    return key


def key_id(key: ec.EllipticCurvePrivateKey) -> str:
    """A stable kid: the first 16 hex digits of the public key's DER SHA-256 (RFC 7638 spirit)."""
    import hashlib

    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": key_id(key), "alg": "ES256", "use": "sig"})
    return jwk


def mint_token(
    dev_dir: Path,
    user: str,
    groups: list[str],
    *,
    ttl_seconds: int = 3600,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
) -> str:
    """A dev-mode bearer token for ``user`` with ``groups``."""
    key = ensure_dev_key(dev_dir)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user,
        "groups": list(groups),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": key_id(key)})
