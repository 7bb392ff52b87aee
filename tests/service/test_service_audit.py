"""The audit chain: append-only in the database, tampering detected by `riskgrid audit verify`."""

from __future__ import annotations

import pytest
from sqlalchemy import text

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
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(stmt))
    assert verify_database(db).ok


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", "record 3: hash mismatch"),
        ("UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 2", "record 2: hash mismatch"),
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
