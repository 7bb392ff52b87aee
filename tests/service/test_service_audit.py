"""The audit chain: append-only in the database, tampering detected by `riskgrid audit verify`."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from riskgrid.cli.main import main
from riskgrid.service.audit import AuditEvent, AuditLog, verify_database
from riskgrid.service.db import Database, migrate


def _log(db_url: str, n: int = 5) -> tuple[Database, AuditLog]:
    db = Database(db_url)
    migrate(db.engine)
    log = AuditLog(db)
    for i in range(n):
        log.append(
            AuditEvent(
                actor=f"user{i}",
                action="job.submit",
                decision="allow",
                request_id=f"r{i}",
                tenant="t",
                object=f"job/{i}",
                detail={"i": i},
            )
        )
    return db, log


def _without_triggers(db: Database) -> None:
    """What an attacker with DB rights would do first: drop the append-only guard."""
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only ON audit_log")


def test_chain_verifies_and_cli_says_ok(db_url, capsys):
    db, _ = _log(db_url)
    result = verify_database(db)
    assert result.ok and result.records == 5
    assert main(["audit", "verify", "--db-url", db_url]) == 0
    assert f"ok: 5 records, head {result.head}" in capsys.readouterr().out


def test_database_refuses_update_and_delete(db_url):
    db, _ = _log(db_url)
    for stmt in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE seq = 2"):
        # the database's own trigger refuses it (SQLite: IntegrityError, PostgreSQL: InternalError)
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(stmt))
    assert verify_database(db).ok


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", "record 3: hash mismatch"),
        ("UPDATE audit_log SET detail = '{\"i\"\\:99}' WHERE seq = 2", "record 2: hash mismatch"),
        ("DELETE FROM audit_log WHERE seq = 3", "record 4: expected sequence number 3"),
        # swap records 2 and 4 (renumbering them so the sequence looks intact)
        (
            "UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 4 WHEN 4 THEN 2 END "
            "WHERE seq IN (2, 4)",
            "does not link",
        ),
    ],
    ids=["changed-actor", "changed-detail", "removed", "reordered"],
)
def test_tampering_is_detected(db_url, tamper, expected, capsys):
    db, _ = _log(db_url)
    _without_triggers(db)
    with db.engine.begin() as conn:
        if "CASE" in tamper:
            # unique constraints forbid the swap in one statement on some databases
            conn.execute(text("UPDATE audit_log SET seq = -2 WHERE seq = 2"))
            conn.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 4"))
            conn.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = -2"))
        else:
            conn.execute(text(tamper))
    result = verify_database(db)
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems
    assert main(["audit", "verify", "--db-url", db_url]) == 1
    assert expected in capsys.readouterr().err


def test_truncated_tail_is_caught_with_an_anchored_head(db_url):
    db, _ = _log(db_url)
    head = verify_database(db).head
    _without_triggers(db)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    assert verify_database(db).ok  # a shorter chain is internally consistent...
    assert not verify_database(db, expect_head=head).ok  # ...but not the one anchored
    assert main(["audit", "verify", "--db-url", db_url, "--expect-head", head]) == 1


def test_secrets_are_scrubbed_before_storage(tmp_path):
    db, log = _log(f"sqlite:///{tmp_path / 'a.db'}", n=0)
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    log.append(
        AuditEvent(
            actor="a",
            action="x",
            decision="deny",
            request_id="r",
            detail={"authorization": f"Bearer {token}", "note": f"saw {token}"},
        )
    )
    row = log.rows()[0]
    assert token not in row.detail and "[redacted" in row.detail
    assert verify_database(db).ok


# --- issue #12 §4: signed records and checkpoints; every tamper class, both databases ---------


def _signed(db_url: str, tmp_path, n: int = 5):
    from riskgrid.service.audit import AuditSigner, CheckpointStore

    signer = AuditSigner(tmp_path / "audit-key.pem")
    store = CheckpointStore(tmp_path / "checkpoints.jsonl")
    db = Database(db_url)
    migrate(db.engine)
    log = AuditLog(db, signer=signer, checkpoints=store, checkpoint_every=1)
    for i in range(n):
        log.append(
            AuditEvent(f"user{i}", "job.submit", "allow", f"r{i}", "t", f"job/{i}", {"i": i})
        )
    return db, log, signer, store


def _recompute_from(conn, start: int) -> None:
    """What a careful forger does after an edit: recompute every later hash and link."""
    from riskgrid.service.audit import chain_hash, record_body

    rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM audit_log ORDER BY seq"))]
    prev = rows[start - 2]["hash"] if start > 1 else "0" * 64
    for row in rows[start - 1 :]:
        row["prev_hash"] = prev
        new = chain_hash(prev, record_body(row))
        conn.execute(
            text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": new, "s": row["seq"]},
        )
        prev = new


def _forge_append(conn) -> None:
    from riskgrid.service.audit import chain_hash, record_body

    last = dict(
        conn.execute(text("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1")).one()._mapping
    )
    row = {
        **last,
        "seq": last["seq"] + 1,
        "actor": "mallory",
        "detail": '{"reason":"approved by nobody"}',
        "prev_hash": last["hash"],
        "sig": last["sig"],  # a signature copied from elsewhere does not fit
    }
    row["hash"] = chain_hash(last["hash"], record_body(row))
    cols = ", ".join(row)
    conn.execute(
        text(f"INSERT INTO audit_log ({cols}) VALUES ({', '.join(':' + k for k in row)})"), row
    )


SIGNED_TAMPERS = {
    "edit": (
        lambda c: c.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")),
        "record 3: hash mismatch",
    ),
    "delete": (
        lambda c: c.execute(text("DELETE FROM audit_log WHERE seq = 3")),
        "expected sequence number 3",
    ),
    "swap": (
        lambda c: [
            c.execute(text(s))
            for s in (
                "UPDATE audit_log SET seq = -2 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = -2",
            )
        ],
        "does not link",
    ),
    "delete-tail": (
        lambda c: c.execute(text("DELETE FROM audit_log WHERE seq >= 4")),
        "checkpoint of record 5: record missing (log truncated to 3 records)",
    ),
    "append-forged": (_forge_append, "record 6: signature missing or invalid"),
    "edit-and-recompute": (
        lambda c: (
            c.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")),
            _recompute_from(c, 2),
        ),
        "record 2: signature missing or invalid",
    ),
    "duplicate-key": (
        lambda c: c.execute(
            text("UPDATE audit_log SET detail = :d WHERE seq = 2"), {"d": '{"i":1,"i":99}'}
        ),
        "record 2: detail has a duplicate key 'i'",
    ),
}


def test_signed_chain_with_checkpoints_verifies(db_url, tmp_path, capsys):
    db, _, signer, store = _signed(db_url, tmp_path)
    result = verify_database(db, public_key=signer.public_key, checkpoints=store)
    assert result.ok, result.problems
    assert result.checkpoints == 5 and result.unanchored == 0
    args = ["audit", "verify", "--db-url", db_url, "--key", str(tmp_path / "audit-key.pem")]
    assert main([*args, "--checkpoints", str(store.path)]) == 0
    assert "signatures ok, 5 checkpoints ok" in capsys.readouterr().out


@pytest.mark.parametrize("tamper", list(SIGNED_TAMPERS))
def test_every_tamper_class_is_detected(db_url, tmp_path, tamper, capsys):
    db, _, signer, store = _signed(db_url, tmp_path)
    _without_triggers(db)
    action, expected = SIGNED_TAMPERS[tamper]
    with db.engine.begin() as conn:
        action(conn)
    result = verify_database(db, public_key=signer.public_key, checkpoints=store)
    assert not result.ok
    assert any(expected in p for p in result.problems), result.problems
    key = str(tmp_path / "audit-key.pem")
    argv = ["audit", "verify", "--db-url", db_url, "--key", key, "--checkpoints", str(store.path)]
    assert main(argv) == 1
    assert expected in capsys.readouterr().err


def test_recomputed_chain_also_contradicts_the_checkpoints(db_url, tmp_path):
    db, _, signer, store = _signed(db_url, tmp_path)
    _without_triggers(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
        _recompute_from(conn, 2)
    # even without the record signatures, the external checkpoints catch the rewrite
    result = verify_database(db, public_key=signer.public_key, checkpoints=store)
    assert any("checkpoint of record 2: hash differs" in p for p in result.problems)


def test_forged_checkpoints_are_refused(tmp_path):
    db, _, signer, store = _signed(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, n=2)
    with store.path.open("a") as f:
        f.write('{"seq": 2, "head": "' + "0" * 64 + '", "ts": "x", "sig": "AAAA"}\n')
    result = verify_database(db, public_key=signer.public_key, checkpoints=store)
    assert any("checkpoint of record 2: signature missing or invalid" in p for p in result.problems)


def test_duplicate_keys_are_refused_at_write(tmp_path):
    from riskgrid.service.audit import DuplicateKeyError

    _db, log = _log(f"sqlite:///{tmp_path / 'a.db'}", n=0)
    with pytest.raises(DuplicateKeyError, match="non-string key 1"):
        log.append(AuditEvent("a", "x", "deny", "r", detail={1: "forged", "1": "real"}))
    assert log.rows() == []


def test_checkpoint_export_cli_signs_the_verified_head(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db, _, _signer, _ = _signed(url, tmp_path, n=3)
    out = tmp_path / "worm" / "export.jsonl"
    key = str(tmp_path / "audit-key.pem")
    assert main(["audit", "checkpoint", "--db-url", url, "--key", key, "--out", str(out)]) == 0
    head = verify_database(db).head
    line = out.read_text().strip()
    assert f'"head": "{head}"' in line and '"seq": 3' in line
    assert main(["audit", "verify", "--db-url", url, "--key", key, "--checkpoints", str(out)]) == 0
