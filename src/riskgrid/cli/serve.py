"""``riskgrid serve`` (the API server) and ``riskgrid dev token`` (dev-mode tokens)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

dev_app = typer.Typer(
    help="Development mode helpers (local signing key; never for production).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``dev`` group to the root app."""
    app.command("serve")(serve)
    app.add_typer(dev_app, name="dev")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    dev: bool = typer.Option(
        False, "--dev", help="Development mode: local signing key, `riskgrid dev token`."
    ),
    db_url: str | None = typer.Option(
        None, "--db-url", help="SQLAlchemy URL (default: SQLite in the state dir)."
    ),
    results_url: str | None = typer.Option(
        None, "--results-url", help="Local path or fsspec URL (s3://bucket/prefix) for results."
    ),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="Where the SQLite DB, work dirs and dev key live."
    ),
    migrate: bool = typer.Option(
        True, "--migrate/--no-migrate", help="Apply database migrations at start-up."
    ),
    engine: str | None = typer.Option(None, help="Grid engine: local or ray."),
    workers: int | None = typer.Option(None, help="Most workers one job may use."),
    log_level: str = typer.Option("info", help="Log level."),
) -> None:
    """Run the self-service API server (FastAPI under uvicorn)."""
    import uvicorn

    from riskgrid.service.app import DEV_BANNER, create_app, tune_process, uvicorn_options
    from riskgrid.service.settings import from_env

    settings = from_env(
        dev_mode=dev or None,
        db_url=db_url,
        results_url=results_url,
        state_dir=state_dir,
        migrate=migrate,
        engine=engine,
        max_workers=workers,
    )
    settings.check()
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.dev_mode:
        banner = DEV_BANNER.format(dir=settings.dev_dir)
        print(f"\n{'!' * 78}\n{banner}\n{'!' * 78}\n", file=sys.stderr, flush=True)
    app = create_app(settings)
    tune_process()
    print(f"web console: http://{host}:{port}/ui", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=True,
        **uvicorn_options(),
    )


@dev_app.command("token")
def dev_token(
    user: str = typer.Option(..., "--user", help="Subject (sub claim)."),
    group: list[str] = typer.Option([], "--group", help="Group claim; repeat for several."),
    ttl: int = typer.Option(3600, help="Lifetime in seconds."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="Server state dir."),
) -> None:
    """Mint a dev-mode bearer token (prints it on stdout)."""
    from riskgrid.service.devkeys import mint_token
    from riskgrid.service.settings import SettingsError, from_env

    settings = from_env(dev_mode=True, state_dir=state_dir)
    if settings.environment.lower() in {"production", "prod"}:
        raise SettingsError("dev tokens are refused with RISKGRID_ENV=production")
    if ttl < 1 or ttl > 7 * 24 * 3600:
        raise SettingsError("--ttl: must be between 1 second and 7 days")
    print(mint_token(settings.dev_dir, user, group, ttl_seconds=ttl))
