"""Issue #12 §4, black-box: every tamper class is caught by ``riskgrid audit verify``, on SQLite
and PostgreSQL.

A real ``riskgrid serve`` writes the records (and, where the code has them, signed checkpoints
at shutdown); an attacker process with write access to the database tampers with them
(audit_attack.py); the CLI must then exit 1. Runs against the old source too
(``scripts/failed_before.py``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from api12_server import Server, cli, pg_database, serve, submission, tenant_doc

ATTACKER = Path(__file__).with_name("audit_attack.py")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def logged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """A log written by a real server (stopped: the last checkpoint is written at shutdown)."""
    backend = request.param
    url = None if backend == "sqlite" else pg_database(request.getfixturevalue("pg_server"))
    srv = serve(tmp_path_factory.mktemp(f"audit-{backend}") / "state", url)
    try:
        with srv.admin() as admin:
            assert admin.post("/v1/tenants", json=tenant_doc("desk-a")).status_code == 201
        with srv.dev() as dev:
            for i in range(3):
                r = dev.post("/v1/tenants/desk-a/jobs", json=submission(name=f"j{i}"))
                assert r.status_code == 201, r.text
    finally:
        srv.stop()
    return srv


def _copy(srv: Server, tmp_path: Path) -> Server:
    """A copy of the log (state dir, and the PostgreSQL database by template) to tamper with."""
    state = tmp_path / "state"
    shutil.copytree(srv.state, state)
    url = None
    if srv.db_url:
        import psycopg

        base, _, query = srv.db_url.partition("?")
        name = f"c_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            srv.db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base.rsplit("/", 1)[1]}"')
        url = f"{base.rsplit('/', 1)[0]}/{name}?{query}"
    return Server(srv.url, state, url, srv.proc)


def _verify(srv: Server) -> subprocess.CompletedProcess[str]:
    return cli("audit", "verify", *srv.db_args())


def test_blackbox_untampered_log_verifies(logged: Server, tmp_path: Path) -> None:
    srv = _copy(logged, tmp_path)
    out = _verify(srv)
    assert out.returncode == 0 and out.stdout.startswith("ok: "), out.stdout + out.stderr


@pytest.mark.parametrize("attack", ["truncate", "append", "recompute", "duplicate-key"])
def test_blackbox_tampering_is_detected(logged: Server, tmp_path: Path, attack: str) -> None:
    srv = _copy(logged, tmp_path)
    url = srv.db_url or f"sqlite:///{srv.state / 'riskgrid.db'}"
    done = subprocess.run(
        [sys.executable, str(ATTACKER), url, attack], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = _verify(srv)
    assert out.returncode == 1, f"tampering ({attack}) not detected: {out.stdout}{out.stderr}"
    assert "FAIL" in out.stderr, out.stderr


def test_blackbox_exported_checkpoint_catches_truncation_on_its_own(
    logged: Server, tmp_path: Path
) -> None:
    """``riskgrid audit checkpoint`` signs the verified head into a file meant for a
    write-once store; that file alone (not the server's own checkpoints) catches a truncation."""
    srv = _copy(logged, tmp_path)
    (srv.state / "audit" / "checkpoints.jsonl").unlink(missing_ok=True)
    exported = tmp_path / "worm" / "checkpoints.jsonl"
    exported.parent.mkdir()
    out = cli("audit", "checkpoint", "--out", str(exported), *srv.db_args())
    assert out.returncode == 0 and exported.is_file(), out.stdout + out.stderr
    url = srv.db_url or f"sqlite:///{srv.state / 'riskgrid.db'}"
    done = subprocess.run(
        [sys.executable, str(ATTACKER), url, "truncate"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = cli("audit", "verify", "--checkpoints", str(exported), *srv.db_args())
    assert out.returncode == 1 and "truncated" in out.stderr, out.stdout + out.stderr
