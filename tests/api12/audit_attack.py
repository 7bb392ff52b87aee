"""An attacker with write access to the audit database (run as its own process).

Usage: python audit_attack.py DB_URL ATTACK, ATTACK one of ``truncate``, ``append``,
``recompute``, ``duplicate-key``. The append-only triggers are dropped first (the attacker owns
the database); hashes are recomputed with the chain function of the code under test (the
algorithm is public), which is the strongest attacker the chain alone can face.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sqlalchemy import create_engine, text

from riskgrid.service.audit import chain_hash, record_body

COLUMNS = ("seq", "ts", "request_id", "actor", "tenant", "action", "object", "decision")


def _drop_triggers(conn: Any, dialect: str) -> None:
    if dialect == "sqlite":
        rows = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")
        )
        for (name,) in list(rows):
            conn.execute(text(f'DROP TRIGGER "{name}"'))
    else:
        rows = conn.execute(
            text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass "
                "AND NOT tgisinternal"
            )
        )
        for (name,) in list(rows):
            conn.execute(text(f'DROP TRIGGER "{name}" ON audit_log'))


def _rows(conn: Any) -> list[dict[str, Any]]:
    cols = ", ".join((*COLUMNS, "detail", "prev_hash", "hash"))
    return [
        dict(r._mapping) for r in conn.execute(text(f"SELECT {cols} FROM audit_log ORDER BY seq"))
    ]


def _rehash(conn: Any, rows: list[dict[str, Any]], start: int) -> None:
    prev = rows[start - 1]["hash"]
    for row in rows[start:]:
        row["prev_hash"] = prev
        row["hash"] = chain_hash(prev, record_body(row))
        conn.execute(
            text(
                "UPDATE audit_log SET actor=:actor, prev_hash=:prev_hash, hash=:hash WHERE seq=:seq"
            ),
            row,
        )
        prev = row["hash"]


def main() -> None:
    url, attack = sys.argv[1:3]
    engine = create_engine(url)
    with engine.begin() as conn:
        _drop_triggers(conn, engine.dialect.name)
        rows = _rows(conn)
        assert len(rows) >= 4, len(rows)
        if attack == "truncate":  # the last two records vanish
            conn.execute(text("DELETE FROM audit_log WHERE seq > :n"), {"n": rows[-3]["seq"]})
        elif attack == "append":  # a forged record, correctly chained
            last = rows[-1]
            forged = {**last, "seq": last["seq"] + 1, "actor": "mallory", "action": "tenant.delete"}
            forged["detail"] = json.dumps({"forged": True}, separators=(",", ":"))
            forged["prev_hash"] = last["hash"]
            forged["hash"] = chain_hash(last["hash"], record_body(forged))
            cols = (*COLUMNS, "detail", "prev_hash", "hash")
            conn.execute(
                text(
                    f"INSERT INTO audit_log ({', '.join(cols)}) "
                    f"VALUES ({', '.join(':' + c for c in cols)})"
                ),
                {c: forged[c] for c in cols},
            )
        elif attack == "recompute":  # one record edited, the rest of the chain recomputed
            rows[1]["actor"] = "mallory"
            _rehash(conn, rows, 1)
        elif attack == "duplicate-key":  # a forged value the verifier's JSON parser drops
            row = rows[1]
            detail = json.loads(row["detail"])
            key = next(iter(detail)) if detail else "reason"
            forged = '{"' + key + '":"FORGED",' + row["detail"][1:]
            if not detail:
                forged = '{"reason":"FORGED","reason":"x"}'  # (not reached: records have detail)
            conn.execute(
                text("UPDATE audit_log SET detail=:d WHERE seq=:seq"),
                {"d": forged, "seq": row["seq"]},
            )
        else:
            raise SystemExit(f"unknown attack {attack!r}")
    engine.dispose()


if __name__ == "__main__":
    main()
