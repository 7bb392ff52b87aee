"""``riskgrid audit``: check the service's hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from riskgrid.service.db import Database

audit_app = typer.Typer(help="The service's append-only audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the root app."""
    app.add_typer(audit_app, name="audit")


def _db(db_url: str | None, state_dir: Path | None) -> Database:
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
    key: Path | None = typer.Option(
        None,
        "--key",
        help="Audit public key (PEM; the private key file also works): checks every record's "
        "signature and the checkpoints' (default: the server's key file, if readable).",
    ),
    checkpoints: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Signed checkpoints (JSON lines) to check the chain against (default: the "
        "server's checkpoint file, if present).",
    ),
) -> None:
    """Recompute the chain; exit 1 if any record was changed, removed, reordered, forged or
    truncated (the last two need --key and --checkpoints)."""
    from riskgrid.service.audit import CheckpointStore, load_public_key, verify_database
    from riskgrid.service.settings import from_env

    settings = from_env(db_url=db_url, state_dir=state_dir)
    key = key or (settings.audit_key_path if settings.audit_key_path.exists() else None)
    checkpoints = checkpoints or (
        settings.audit_checkpoint_path if settings.audit_checkpoint_path.exists() else None
    )
    try:
        public_key = load_public_key(key) if key else None
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {key}: {exc}", err=True)
        raise typer.Exit(2) from None
    db = _db(db_url, state_dir)
    try:
        result = verify_database(
            db,
            expect_head,
            public_key=public_key,
            checkpoints=CheckpointStore(checkpoints) if checkpoints else None,
        )
    finally:
        db.dispose()
    if result.ok:
        extra = ""
        if public_key is not None:
            extra = ", signatures ok"
        if checkpoints:
            extra += f", {result.checkpoints} checkpoints ok, {result.unanchored} unanchored"
        typer.echo(f"ok: {result.records} records, head {result.head}{extra}")
        return
    for problem in result.problems:
        typer.echo(f"FAIL {problem}", err=True)
    typer.echo(f"audit log verification failed: {len(result.problems)} problem(s)", err=True)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_cmd(
    out: Path = typer.Option(..., "--out", help="Append-only file to add the checkpoint to."),
    key: Path | None = typer.Option(None, "--key", help="Audit private key (default: server's)."),
    db_url: str | None = typer.Option(None, "--db-url", help="Database URL (as for serve)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Server state dir."),
) -> None:
    """Verify the chain, then sign its head into a checkpoint appended to --out (for export
    to a write-once store; run it from a host that holds the audit key)."""
    from riskgrid.service.audit import (
        AuditSigner,
        CheckpointStore,
        make_checkpoint,
        verify_database,
    )
    from riskgrid.service.settings import from_env

    settings = from_env(db_url=db_url, state_dir=state_dir)
    key = key or settings.audit_key_path
    if not key.exists():
        typer.echo(f"error: {key}: audit key not found", err=True)
        raise typer.Exit(2)
    signer = AuditSigner(key)
    db = _db(db_url, state_dir)
    try:
        result = verify_database(db, public_key=signer.public_key)
    finally:
        db.dispose()
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"FAIL {problem}", err=True)
        typer.echo("refusing to checkpoint a chain that does not verify", err=True)
        raise typer.Exit(1)
    if result.records == 0:
        typer.echo("nothing to checkpoint: the log is empty")
        return
    CheckpointStore(out).append(make_checkpoint(signer, result.records, result.head))
    typer.echo(f"checkpoint: record {result.records}, head {result.head} → {out}")


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
