"""DSSE envelopes carrying in-toto Statements, signed with Ed25519 or ECDSA keys.

The format a signing pipeline produces (docs/supply-chain.md): an in-toto Statement v1
(``_type https://in-toto.io/Statement/v1``) whose ``subject`` is the image repository and its
manifest digest, wrapped in a DSSE envelope (``payloadType application/vnd.in-toto+json``,
base64 payload, signatures over DSSE's pre-authentication encoding ``PAE``). It is the
envelope cosign ``attest`` and in-toto tooling write, so such output verifies here with the
same public key. The key id is the SHA-256 of the key's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from riskgrid.spec.errors import RiskgridError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


class AttestationError(RiskgridError):
    """An envelope or statement that is malformed, truncated or not verifiable."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is actually signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def key_id(public_key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _sign(private_key: Any, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        algo = hashes.SHA256() if private_key.curve.name == "secp256r1" else hashes.SHA384()
        return private_key.sign(data, ec.ECDSA(algo))
    raise AttestationError("signing key must be Ed25519 or ECDSA P-256/P-384")


def _verify(public_key: Any, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            algo = hashes.SHA256() if public_key.curve.name == "secp256r1" else hashes.SHA384()
            public_key.verify(signature, data, ec.ECDSA(algo))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def statement(repository: str, digest: str, predicate_type: str, predicate: Any) -> dict[str, Any]:
    algo, _, hexpart = digest.partition(":")
    return {
        "_type": STATEMENT_V1,
        "subject": [{"name": repository, "digest": {algo: hexpart}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_envelope(stmt: dict[str, Any], private_key: Any) -> bytes:
    payload = json.dumps(stmt, separators=(",", ":"), sort_keys=True).encode()
    sig = _sign(private_key, pae(PAYLOAD_TYPE, payload))
    env = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": key_id(private_key.public_key()), "sig": base64.b64encode(sig).decode()}
        ],
    }
    return json.dumps(env, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Verified:
    statement: dict[str, Any]
    signer: str  # the trust policy's key name


def open_envelope(raw: bytes, keys: dict[str, Any]) -> Verified:
    """Parse a DSSE envelope and verify it with any of ``keys`` (name → public key).

    Raises :class:`AttestationError` for malformed/truncated input or when no signature
    verifies with a trusted key.
    """
    try:
        env = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AttestationError(f"envelope is not JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(env, dict):
        raise AttestationError("envelope is not a JSON object")
    if env.get("payloadType") != PAYLOAD_TYPE:
        raise AttestationError(
            f"envelope payloadType is {env.get('payloadType')!r}, expected {PAYLOAD_TYPE!r}"
        )
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise AttestationError("envelope has no signatures")
    try:
        payload = base64.b64decode(str(env.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raise AttestationError("envelope payload is not valid base64") from None
    signer = None
    for entry in sigs:
        if not isinstance(entry, dict):
            raise AttestationError("envelope signature entry is not an object")
        try:
            sig = base64.b64decode(str(entry.get("sig", "")), validate=True)
        except (binascii.Error, ValueError):
            raise AttestationError("envelope signature is not valid base64") from None
        for name, key in keys.items():
            if _verify(key, sig, pae(PAYLOAD_TYPE, payload)):
                signer = name
                break
        if signer:
            break
    if signer is None:
        raise AttestationError("no signature verifies with a key trusted for this repository")
    try:
        stmt = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise AttestationError("signed payload is not JSON") from None
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_V1:
        raise AttestationError("signed payload is not an in-toto Statement v1")
    if not isinstance(stmt.get("subject"), list) or not isinstance(stmt.get("predicateType"), str):
        raise AttestationError("in-toto statement lacks subject or predicateType")
    return Verified(stmt, signer)


def subject_digests(stmt: dict[str, Any]) -> set[str]:
    out = set()
    for s in stmt.get("subject") or []:
        if isinstance(s, dict) and isinstance(s.get("digest"), dict):
            for algo, value in s["digest"].items():
                out.add(f"{algo}:{value}")
    return out


def load_public_key(pem: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem.encode())


def load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise AttestationError(f"not an unencrypted PEM private key: {exc}") from None
