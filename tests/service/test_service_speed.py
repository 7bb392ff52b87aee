"""Issue #12 §2 speed work, checked for what it must not weaken: group commit (durable and
anchored before the answer, one bad unit fails alone, the chain verifies), read sessions that
do not wait for a writer, and cached token verification (expiry and key rotation still bite).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from riskgrid.service.audit import (
    AuditEvent,
    AuditLog,
    AuditSigner,
    CheckpointStore,
    verify_database,
)
from riskgrid.service.auth import AuthError, JwksCache, TokenVerifier
from riskgrid.service.db import Database, migrate
from riskgrid.service.models import AuditRow, TenantRow, utcnow


def _tenant(name: str) -> TenantRow:
    now = utcnow()
    return TenantRow(
        name=name, spec={"metadata": {"name": name}}, generation=1, created_at=now,
        updated_at=now, created_by="t", updated_by="t",
    )  # fmt: skip


def test_group_commit_batches_units_and_each_is_anchored(db_url, tmp_path):
    db = Database(db_url)
    migrate(db.engine)
    signer = AuditSigner(tmp_path / "key.pem")
    store = CheckpointStore(tmp_path / "cps.jsonl")
    log = AuditLog(db, signer=signer, checkpoints=store)
    log.start()
    gate = threading.Event()
    try:
        # hold the writer on a first unit so that the next ones queue up behind it
        first = log.submit(lambda s: gate.wait(10), lambda _: [AuditEvent("a", "x", "allow", "r0")])
        futures = [
            log.submit(
                lambda s, i=i: s.add(_tenant(f"t{i}")) or i,
                lambda i: [AuditEvent("a", "tenant.create", "allow", f"r{i}", tenant=f"t{i}")],
            )
            for i in range(1, 9)
        ]
        gate.set()
        first.result(10)
        results = [f.result(10)[0] for f in futures]
        # the eight queued units went into one transaction: two commits for nine units
        assert log.units == 9 and log.batches <= 2, (log.batches, log.units)
        # a bad unit in a batch fails alone (the batch is retried unit by unit)
        gate.clear()
        held = log.submit(lambda s: gate.wait(10), lambda _: [AuditEvent("a", "x", "allow", "r9")])
        bad = log.submit(lambda s: 1 / 0, lambda _: [AuditEvent("a", "x", "allow", "bad")])
        last = log.submit(None, lambda _: [AuditEvent("a", "y", "deny", "r10")])
        gate.set()
        held.result(10)
        assert last.result(10)[1][0].request_id == "r10"
        with pytest.raises(ZeroDivisionError):
            bad.result(10)
    finally:
        gate.set()
        log.stop()
    assert results == list(range(1, 9))
    with db.read() as s:
        assert len(list(s.scalars(select(TenantRow)))) == 8
        ids = list(s.scalars(select(AuditRow.request_id).order_by(AuditRow.seq)))
    assert ids == [f"r{i}" for i in range(11)]
    result = verify_database(db, public_key=signer.public_key, checkpoints=store)
    assert result.ok, result.problems
    assert result.unanchored == 0 and result.records == 11


def test_a_failed_unit_leaves_nothing_behind(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(db.engine)
    log = AuditLog(db)
    log.start()
    try:

        def half(s):
            s.add(_tenant("half"))
            s.flush()
            raise ValueError("refused after a write")

        with pytest.raises(ValueError):
            log.commit(half, lambda _: [AuditEvent("a", "x", "allow", "r")])
        log.append(AuditEvent("a", "y", "allow", "r2"))
    finally:
        log.stop()
    with db.read() as s:
        assert list(s.scalars(select(TenantRow))) == []
        assert list(s.scalars(select(AuditRow.request_id))) == ["r2"]


def test_read_sessions_do_not_wait_for_a_writer(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(db.engine)
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as s:  # holds SQLite's write lock until released
            s.add(_tenant("w"))
            s.flush()
            held.set()
            release.wait(10)

    with ThreadPoolExecutor(1) as pool:
        f = pool.submit(writer)
        assert held.wait(10)
        started = time.monotonic()
        with db.read() as s:  # a snapshot: the uncommitted tenant is not seen
            names = list(s.scalars(select(TenantRow.name)))
        took = time.monotonic() - started
        release.set()
        f.result(10)
    assert names == [] and took < 5.0  # a write session would wait for the lock (30 s)


ISS, AUD = "https://idp.example", "riskgrid"


def _jwks(path: Path, key, kid: str) -> None:
    d = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    d.update(kid=kid, alg="ES256", use="sig")
    path.write_text(json.dumps({"keys": [d]}))


def test_cached_tokens_still_expire_and_follow_key_rotation(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    source = tmp_path / "jwks.json"
    _jwks(source, key, "k1")
    now = [time.time()]
    jwks = JwksCache(str(source), ttl_seconds=0.0, min_refetch_seconds=0.0)
    v = TokenVerifier(issuer=ISS, audience=AUD, jwks=jwks, leeway_seconds=5, clock=lambda: now[0])
    iat = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": "alice", "iat": iat, "exp": iat + 60}
    token = jwt.encode(claims, key, "ES256", headers={"kid": "k1"})
    assert v.verify(token).subject == "alice"
    assert token in v._verified
    # expiry holds on a cached token (the clock moves past exp + leeway)
    now[0] = iat + 66
    with pytest.raises(AuthError):
        v.verify(token)
    now[0] = time.time()
    assert v.verify(token).subject == "alice"
    # the key is rotated out: a cached token signed by it is refused at once
    _jwks(source, ec.generate_private_key(ec.SECP256R1()), "k2")
    with pytest.raises(AuthError, match="unknown key"):
        v.verify(token)
    # a changed byte is another token: full verification, refused
    _jwks(source, key, "k1")
    assert v.verify(token).subject == "alice"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError):
        v.verify(tampered)
