"""Append-only, hash-chained audit log.

Each record's hash is ``sha256(prev_hash + canonical_json(record))``, where the record includes
its sequence number; so a changed record breaks its own hash, a removed or reordered one breaks
the sequence and the next record's link. Removing records from the *end* leaves a valid shorter
chain: anchor the head hash elsewhere (``riskgrid audit verify --expect-head``) to catch that.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from riskgrid.service.db import Database
from riskgrid.service.models import AuditRow

GENESIS = "0" * 64
# Anything shaped like a JWT is replaced before it can be stored: defence in depth, since no
# code path is meant to hand a token to the audit log in the first place.
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SECRET_KEYS = {"authorization", "token", "password", "secret", "access_token", "id_token"}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


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
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return {
        "seq": get("seq"),
        "ts": get("ts"),
        "request_id": get("request_id"),
        "actor": get("actor"),
        "tenant": get("tenant"),
        "action": get("action"),
        "object": get("object"),
        "decision": get("decision"),
        "detail": json.loads(get("detail")),
    }


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


class AuditLog:
    """Writes audit records; one writer at a time (thread lock, plus an advisory lock on PG)."""

    _ADVISORY_KEY = 0x72697367  # "risg"

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()

    def append(self, event: AuditEvent) -> AuditRow:
        detail = canonical_json(scrub(event.detail or {}))
        with self._lock, self.db.session() as s:
            if self.db.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._ADVISORY_KEY})
            last = s.execute(
                select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)
            ).first()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            row = AuditRow(
                seq=seq,
                ts=datetime.now(UTC).isoformat(timespec="microseconds"),
                request_id=event.request_id[:64],
                actor=scrub(event.actor)[:256],
                tenant=event.tenant[:63] if event.tenant else None,
                action=event.action,
                object=scrub(event.object)[:300] if event.object else None,
                decision=event.decision,
                detail=detail,
                prev_hash=prev,
                hash="",
            )
            row.hash = chain_hash(prev, record_body(row))
            s.add(row)
        return row

    def rows(self) -> list[AuditRow]:
        with self.db.session() as s:
            return list(s.scalars(select(AuditRow).order_by(AuditRow.seq)))


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_rows(
    rows: Iterable[AuditRow | dict[str, Any]], expect_head: str | None = None
) -> VerifyResult:
    """Check sequence, links and hashes of records in storage order (by seq)."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    for row in rows:
        count += 1
        get = row.get if isinstance(row, dict) else lambda k, r=row: getattr(r, k)
        seq = get("seq")
        if seq != expected_seq:
            problems.append(
                f"record {seq}: expected sequence number {expected_seq} (removed or reordered)"
            )
        if get("prev_hash") != prev:
            problems.append(f"record {seq}: does not link to the previous record")
        try:
            body = record_body(row)
        except (TypeError, ValueError):
            problems.append(f"record {seq}: detail is not valid JSON")
        else:
            if chain_hash(get("prev_hash"), body) != get("hash"):
                problems.append(f"record {seq}: hash mismatch (record changed)")
        prev = get("hash")
        expected_seq = seq + 1 if isinstance(seq, int) else expected_seq + 1
    if expect_head is not None and prev != expect_head:
        problems.append(
            f"head hash {prev} differs from the expected {expect_head} (records removed?)"
        )
    return VerifyResult(records=count, head=prev, problems=problems)


def verify_database(db: Database, expect_head: str | None = None) -> VerifyResult:
    with db.session() as s:
        rows = [
            dict(r._mapping)
            for r in s.execute(select(AuditRow.__table__)).all()  # raw rows, in seq order
        ]
    rows.sort(key=lambda r: r["seq"])
    return verify_rows(rows, expect_head)
