"""Append-only, hash-chained, signed audit log with signed checkpoints of its head.

Each record's hash is ``sha256(prev_hash || JCS(record))`` where JCS is the RFC 8785 canonical
JSON form (the ``rfc8785`` package) of the record including its sequence number; the stored
``detail`` text must itself be canonical JSON, and a duplicated key is refused at write and
reported at verify. So a changed record breaks its own hash; a removed or reordered one breaks
the sequence and the next record's link.

Three things a plain chain cannot show are covered by a key the database never holds (an
Ed25519 key file on the API host, ``RISKGRID_AUDIT_KEY_FILE``):

* each record's hash is **signed** (``sig``): a forged record appended by someone with database
  rights, or an edited record with the rest of the chain recomputed, has no valid signature;
* the chain head is periodically written as a **signed checkpoint** (seq, head hash, time) to an
  append-only store outside the database (``RISKGRID_AUDIT_CHECKPOINTS``: a local append-only
  file in dev; in production a write-once store, see docs/service.md): records deleted from the
  end are caught because a checkpoint names a record that is gone or different.

``riskgrid audit verify --key --checkpoints`` checks all of it (docs/service.md, D-#12.4).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from sqlalchemy import select, text

from riskgrid.service.db import Database
from riskgrid.service.models import AuditRow

GENESIS = "0" * 64
# Anything shaped like a JWT is replaced before it can be stored: defence in depth, since no
# code path is meant to hand a token to the audit log in the first place.
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SECRET_KEYS = {"authorization", "token", "password", "secret", "access_token", "id_token"}
RECORD_CONTEXT = "riskgrid-audit-record-v1"
CHECKPOINT_CONTEXT = "riskgrid-audit-checkpoint-v1"


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice (readers would disagree on its value)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(f"duplicate key {k!r}")
        out[k] = v
    return out


def strict_loads(raw: str) -> Any:
    """``json.loads`` that refuses duplicate keys."""
    return json.loads(raw, object_pairs_hook=_no_duplicates)


def _check_keys(value: Any) -> None:
    """Only string keys: ``{1: .., "1": ..}`` would serialise to a duplicated key."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str):
                    raise DuplicateKeyError(f"non-string key {k!r} in audit detail")
                stack.append(v)
        elif isinstance(node, list | tuple):
            stack.extend(node)


def canonical_json(value: Any) -> str:
    """RFC 8785 (JCS) canonical JSON text of ``value``."""
    _check_keys(value)
    return rfc8785.dumps(value).decode("utf-8")


def scrub(value: Any) -> Any:
    """Copy of ``value`` with token-like strings and secret-named keys redacted."""
    if isinstance(value, dict):
        return {
            k: "[redacted]" if str(k).lower() in _SECRET_KEYS else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _JWT_LIKE.sub("[redacted-token]", value)
    return value


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str
    decision: str  # "allow" | "deny" | "error"
    request_id: str
    tenant: str | None = None
    object: str | None = None
    detail: dict[str, Any] | None = None


def record_body(row: AuditRow | dict[str, Any]) -> dict[str, Any]:
    """The hashed fields of a record; the detail must be canonical JSON without duplicates."""
    get: Callable[[str], Any] = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    raw = get("detail")
    detail = strict_loads(raw)
    if canonical_json(detail) != raw:
        raise ValueError("detail is not in canonical form (RFC 8785)")
    return {
        "seq": get("seq"),
        "ts": get("ts"),
        "request_id": get("request_id"),
        "actor": get("actor"),
        "tenant": get("tenant"),
        "action": get("action"),
        "object": get("object"),
        "decision": get("decision"),
        "detail": detail,
    }


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def _record_message(seq: int, digest: str) -> bytes:
    return f"{RECORD_CONTEXT}:{seq}:{digest}".encode()


def _checkpoint_message(seq: int, head: str, ts: str) -> bytes:
    return f"{CHECKPOINT_CONTEXT}:{seq}:{head}:{ts}".encode()


class AuditSigner:
    """The audit key: an Ed25519 private key in a file only the API process reads.

    Created (mode 0600) on first use if absent. The database role never sees it, so someone
    with database rights can neither forge a record's signature nor a checkpoint.
    """

    def __init__(self, key_file: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{key_file}: not an Ed25519 private key")
        self._key = key
        self.public_key = key.public_key()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def load_public_key(path: Path) -> Any:
    """An Ed25519 public key from a PEM file holding the public or the private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        key: Any = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 key")
    return key


def _valid(public_key: Any, sig: str | None, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    if not sig:
        return False
    try:
        public_key.verify(base64.b64decode(sig, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


class CheckpointStore:
    """Signed checkpoints as JSON lines in an append-only file (``O_APPEND``, fsynced).

    In production point it at a write-once location (a WORM volume, or a file shipped to an
    object-lock bucket); ``riskgrid audit checkpoint --out`` exports one on demand.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoint: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(checkpoint, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Checkpoints in file order, and problems with lines that are not checkpoints."""
        if not self.path.exists():
            return [], []
        out: list[dict[str, Any]] = []
        problems: list[str] = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                cp = strict_loads(line)
                if not isinstance(cp, dict) or not {"seq", "head", "ts", "sig"} <= set(cp):
                    raise ValueError("missing fields")
            except ValueError as exc:
                problems.append(f"checkpoint line {n}: malformed ({exc})")
                continue
            out.append(cp)
        return out, problems


def make_checkpoint(signer: AuditSigner, seq: int, head: str) -> dict[str, Any]:
    ts = datetime.now(UTC).isoformat(timespec="microseconds")
    return {
        "seq": seq,
        "head": head,
        "ts": ts,
        "sig": signer.sign(_checkpoint_message(seq, head, ts)),
    }


@dataclass
class _Unit:
    """A request's writes and the audit records that say what it did, committed together."""

    # (session) -> result; None: audit records only. It may run twice (a batch that fails is
    # rolled back and retried unit by unit), so it must only write through the session.
    write: Callable[[Any], Any] | None
    events: Callable[[Any], list[AuditEvent]]  # (result) -> records
    future: Future[tuple[Any, list[AuditRow]]]


class AuditLog:
    """Writes audit records; one writer at a time (thread lock, plus an advisory lock on PG).

    Group commit: :meth:`submit` queues a unit (a request's own writes plus its audit
    records) for the writer thread, which takes every unit queued meanwhile (up to
    ``max_batch``) into one transaction, chains and signs their records in order, commits
    once, writes the signed checkpoint and only then answers each unit. A request is thus
    answered only once its rows and records are durable, as before, but concurrent requests
    share the fsyncs instead of queueing for one each. A batch that fails (one bad unit, a
    failed commit) is rolled back and its units retried one transaction each, so a unit fails
    alone. :meth:`append` is a unit of one record (through the writer when it runs).

    With a signer, every record is signed, and a checkpoint of the head is written to
    ``checkpoints`` after a commit once ``checkpoint_every`` records or ``checkpoint_seconds``
    have passed since the last one (default: after every commit, so every record a request
    was answered for is anchored; :meth:`checkpoint` forces one, as the server does at
    shutdown).
    """

    _ADVISORY_KEY = 0x72697367  # "risg"

    def __init__(
        self,
        db: Database,
        *,
        signer: AuditSigner | None = None,
        checkpoints: CheckpointStore | None = None,
        checkpoint_every: int = 1,
        checkpoint_seconds: float = 60.0,
        max_batch: int = 256,
    ) -> None:
        self.db = db
        self.signer = signer
        self.checkpoints = checkpoints
        self.checkpoint_every = max(1, checkpoint_every)
        self.checkpoint_seconds = checkpoint_seconds
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._head: tuple[int, str] | None = None
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self.batches = 0  # commits made (for tests and the benchmark: units / batches)
        self.units = 0

    # --- the writer thread -------------------------------------------------------------------

    def start(self) -> None:
        """Start the group-commit writer (the server does, at startup)."""
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._writer.start()

    @property
    def running(self) -> bool:
        return self._writer is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the writer (within ``timeout`` seconds)."""
        writer = self._writer
        if writer is None:
            return
        self._queue.put(None)
        writer.join(timeout)
        with self._lock:
            self._writer = None

    def _run(self) -> None:
        while True:
            unit = self._queue.get()
            if unit is None:
                return
            batch = [unit]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def submit(
        self,
        write: Callable[[Any], Any] | None,
        events: Callable[[Any], list[AuditEvent]],
    ) -> Future[tuple[Any, list[AuditRow]]]:
        """Queue ``write(session)`` and the records ``events(result)`` as one unit; the future
        gives ``(result, rows)`` once committed (and anchored), or the unit's exception."""
        unit = _Unit(write, events, Future())
        if self._writer is not None:
            if getattr(self.db._local, "open", False):
                # the writer would wait for this thread's own transaction (SQLite: its lock)
                raise RuntimeError("audit write from inside a database session")
            self._queue.put(unit)
        else:
            self._commit([unit])
        return unit.future

    def commit(
        self, write: Callable[[Any], Any] | None, events: Callable[[Any], list[AuditEvent]]
    ) -> tuple[Any, list[AuditRow]]:
        """:meth:`submit` and wait (from a thread; coroutines await ``wrap_future(submit())``)."""
        return self.submit(write, events).result()

    def append(self, event: AuditEvent) -> AuditRow:
        return self.commit(None, lambda _: [event])[1][0]

    # --- one batch ---------------------------------------------------------------------------

    def _commit(self, batch: list[_Unit]) -> None:
        try:
            results = self._transaction(batch)
        except Exception as exc:
            if len(batch) > 1:  # one unit (or the commit) failed: each unit on its own
                for unit in batch:
                    self._commit([unit])
                return
            batch[0].future.set_exception(exc)
            return
        for unit, outcome in zip(batch, results, strict=True):
            unit.future.set_result(outcome)

    def _transaction(self, batch: list[_Unit]) -> list[tuple[Any, list[AuditRow]]]:
        """One transaction for the whole batch (all or nothing: a failure anywhere rolls it
        back and :meth:`_commit` retries unit by unit), then the checkpoint."""
        outcomes: list[tuple[Any, list[AuditRow]]] = []
        with self._lock:
            with self.db.session() as s:
                if self.db.dialect == "postgresql":
                    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._ADVISORY_KEY})
                last = s.execute(
                    select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
                ).first()
                head: tuple[int, str] = (last[0], last[1]) if last else (0, GENESIS)
                for unit in batch:
                    result = unit.write(s) if unit.write is not None else None
                    rows = []
                    for event in unit.events(result):
                        row = self._row(*head, event)
                        head = (row.seq, row.hash)
                        rows.append(row)
                    s.add_all(rows)
                    outcomes.append((result, rows))
            records = sum(len(rows) for _, rows in outcomes)
            self.batches += 1
            self.units += len(batch)
            if records:
                self._head = head
                self._since_checkpoint += records
                if (
                    self._since_checkpoint >= self.checkpoint_every
                    or time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds
                ):
                    self._write_checkpoint()
        return outcomes

    def _row(self, seq: int, prev: str, event: AuditEvent) -> AuditRow:
        detail = canonical_json(scrub(event.detail or {}))
        row = AuditRow(
            seq=seq + 1,
            ts=datetime.now(UTC).isoformat(timespec="microseconds"),
            request_id=event.request_id[:64],
            actor=scrub(event.actor)[:256],
            tenant=event.tenant[:63] if event.tenant else None,
            action=event.action[:64],
            object=scrub(event.object)[:300] if event.object else None,
            decision=event.decision,
            detail=detail,
            prev_hash=prev,
            hash="",
        )
        row.hash = chain_hash(prev, record_body(row))
        if self.signer is not None:
            row.sig = self.signer.sign(_record_message(row.seq, row.hash))
        return row

    def _write_checkpoint(self) -> None:
        if self.signer is None or self.checkpoints is None or self._head is None:
            return
        self.checkpoints.append(make_checkpoint(self.signer, *self._head))
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()

    def checkpoint(self) -> None:
        """Write a checkpoint of the last record this process appended, if any since the last."""
        with self._lock:
            if self._since_checkpoint:
                self._write_checkpoint()

    def rows(self) -> list[AuditRow]:
        with self.db.session() as s:
            return list(s.scalars(select(AuditRow).order_by(AuditRow.seq)))


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    problems: list[str]
    checkpoints: int = 0
    unanchored: int = 0  # records after the newest checkpoint (not yet anchored)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(
    rows: Iterable[AuditRow | dict[str, Any]],
    expect_head: str | None = None,
    *,
    public_key: Any = None,
    checkpoints: list[dict[str, Any]] | None = None,
) -> VerifyResult:
    """Check sequence, links, hashes and (with ``public_key``) signatures and checkpoints."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    hashes: dict[int, str] = {}
    for row in rows:
        count += 1
        get: Callable[[str], Any] = (
            row.get if isinstance(row, dict) else functools.partial(getattr, row)
        )
        seq = get("seq")
        if seq != expected_seq:
            problems.append(
                f"record {seq}: expected sequence number {expected_seq} (removed or reordered)"
            )
        if get("prev_hash") != prev:
            problems.append(f"record {seq}: does not link to the previous record")
        try:
            body = record_body(row)
        except DuplicateKeyError as exc:
            problems.append(f"record {seq}: detail has a {exc}")
        except (TypeError, ValueError) as exc:
            problems.append(f"record {seq}: detail is not valid canonical JSON ({exc})")
        else:
            if chain_hash(get("prev_hash"), body) != get("hash"):
                problems.append(f"record {seq}: hash mismatch (record changed)")
        if public_key is not None and not _valid(
            public_key, get("sig"), _record_message(seq, get("hash"))
        ):
            problems.append(f"record {seq}: signature missing or invalid (forged or recomputed)")
        prev = get("hash")
        if isinstance(seq, int):
            hashes[seq] = prev
        expected_seq = seq + 1 if isinstance(seq, int) else expected_seq + 1
    if expect_head is not None and prev != expect_head:
        problems.append(
            f"head hash {prev} differs from the expected {expect_head} (records removed?)"
        )
    newest = 0
    for cp in checkpoints or []:
        seq, head = cp.get("seq"), cp.get("head")
        if (
            public_key is None
            or not isinstance(seq, int)
            or not _valid(
                public_key, cp.get("sig"), _checkpoint_message(seq, str(head), str(cp.get("ts")))
            )
        ):
            problems.append(f"checkpoint of record {seq}: signature missing or invalid")
            continue
        newest = max(newest, seq)
        if seq not in hashes:
            problems.append(
                f"checkpoint of record {seq}: record missing (log truncated to {count} records)"
            )
        elif hashes[seq] != head:
            problems.append(f"checkpoint of record {seq}: hash differs (record or chain rewritten)")
    return VerifyResult(
        records=count,
        head=prev,
        problems=problems,
        checkpoints=len(checkpoints or []),
        unanchored=max(0, count - newest) if checkpoints is not None else 0,
    )


def verify_database(
    db: Database,
    expect_head: str | None = None,
    *,
    public_key: Any = None,
    checkpoints: CheckpointStore | None = None,
) -> VerifyResult:
    with db.session() as s:
        rows = [
            dict(r._mapping)
            for r in s.execute(select(AuditRow.__table__)).all()  # raw rows, in seq order
        ]
    rows.sort(key=lambda r: r["seq"])
    cps, cp_problems = checkpoints.read() if checkpoints is not None else (None, [])
    result = verify_rows(rows, expect_head, public_key=public_key, checkpoints=cps)
    if cp_problems:
        return VerifyResult(
            result.records,
            result.head,
            cp_problems + result.problems,
            result.checkpoints,
            result.unanchored,
        )
    return result
