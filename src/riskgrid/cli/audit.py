"""``riskgrid audit``: check the service's hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path

import typer

audit_app = typer.Typer(help="The service's append-only audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the root app."""
    app.add_typer(audit_app, name="audit")


def _db(db_url: str | None, state_dir: Path | None):  # type: ignore[no-untyped-def]
    from riskgrid.service.db import Database
    from riskgrid.service.settings import from_env

    settings = from_env(db_url=db_url, state_dir=state_dir)
    return Database(settings.database_url)


@audit_app.command("verify")
def verify_cmd(
    db_url: str | None = typer.Option(None, "--db-url", help="Database URL (as for serve)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Server state dir."),
    expect_head: str | None = typer.Option(
        None, "--expect-head", help="Head hash recorded earlier: detects removed tail records."
    ),
) -> None:
    """Recompute the chain; exit 1 if any record was changed, removed or reordered."""
    from riskgrid.service.audit import verify_database

    db = _db(db_url, state_dir)
    try:
        result = verify_database(db, expect_head)
    finally:
        db.dispose()
    if result.ok:
        typer.echo(f"ok: {result.records} records, head {result.head}")
        return
    for problem in result.problems:
        typer.echo(f"FAIL {problem}", err=True)
    typer.echo(f"audit log verification failed: {len(result.problems)} problem(s)", err=True)
    raise typer.Exit(1)


@audit_app.command("show")
def show_cmd(
    db_url: str | None = typer.Option(None, "--db-url", help="Database URL (as for serve)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Server state dir."),
    limit: int = typer.Option(50, min=1, max=10_000, help="Most recent records to print."),
) -> None:
    """Print the most recent records as JSON lines."""
    from riskgrid.service.audit import AuditLog, record_body

    db = _db(db_url, state_dir)
    try:
        rows = AuditLog(db).rows()[-limit:]
    finally:
        db.dispose()
    for row in rows:
        typer.echo(json.dumps({**record_body(row), "hash": row.hash}))
