"""Client commands: ``riskgrid login``, ``submit``, ``jobs``, ``results`` (and ``tenant
create|get``, which :func:`register_tenant_commands` adds to the tenancy area's group)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from riskgrid.client import Client

from riskgrid.spec.errors import RiskgridError

DEFAULT_SERVER = "http://127.0.0.1:8000"


def config_path() -> Path:
    return Path(
        os.environ.get("RISKGRID_CONFIG", "~/.config/riskgrid/credentials.json")
    ).expanduser()


def _read_config() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RiskgridError(f"{path}: holds a token but is readable by others; chmod 600 it")
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise RiskgridError(f"{path}: not valid JSON; run `riskgrid login` again") from None
    return data if isinstance(data, dict) else {}


def _write_config(data: dict[str, Any]) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _client(server: str | None, tenant: str | None = None) -> Client:
    from riskgrid.client import Client

    cfg = _read_config()
    token = os.environ.get("RISKGRID_TOKEN") or cfg.get("token")
    if not token:
        raise RiskgridError("not logged in: run `riskgrid login` or set RISKGRID_TOKEN")
    return Client(server or cfg.get("server") or DEFAULT_SERVER, token, tenant=tenant)


ServerOpt = typer.Option(None, "--server", help="API server URL (default: from `login`).")


def login(
    server: str = typer.Option(DEFAULT_SERVER, "--server", help="API server URL."),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="Read the token from this file (else $RISKGRID_TOKEN)."
    ),
) -> None:
    """Store the server and a bearer token (file mode 0600) after checking them."""
    from riskgrid.client import Client

    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise RiskgridError(f"{token_file}: cannot read token: {exc.strerror}") from None
    else:
        token = os.environ.get("RISKGRID_TOKEN", "").strip()
    if not token:
        raise RiskgridError("no token: pass --token-file or set RISKGRID_TOKEN")
    with Client(server, token) as c:
        me = c.me()
    path = _write_config({"server": server.rstrip("/"), "token": token})
    roles = ", ".join(f"{t}={r}" for t, r in me["tenants"].items()) or "none"
    typer.echo(f"logged in to {server} as {me['subject']} (tenants: {roles}); saved {path}")


def submit(
    job: Path = typer.Argument(..., help="RiskJob YAML file."),
    tenant: str = typer.Option(..., "--tenant", help="Tenant to run the job in."),
    wait: bool = typer.Option(False, "--wait", help="Wait, with a progress bar."),
    server: str | None = ServerOpt,
) -> None:
    """Submit a job (with the files it references) to a tenant."""
    with _client(server, tenant) as c:
        j = c.submit(job)
        typer.echo(f"submitted {j.id} ({j.data['name']}) to {tenant}: {j.data['state']}")
        if not wait:
            return
        final = _wait_with_bar(j)
        typer.echo(f"{j.id}: {final['state']}" + (f": {final['error']}" if final["error"] else ""))
        if final["state"] != "succeeded":
            raise typer.Exit(1)


def _wait_with_bar(job: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True
    ) as bar:
        task = bar.add_task("queued", total=None)

        def show(data: dict[str, Any]) -> None:
            t = data["tasks"]
            bar.update(
                task,
                description=data["state"],
                completed=t["done"],
                total=t["total"] or None,
            )

        return job.wait(poll=0.5, on_progress=show)


def jobs(
    ctx: typer.Context,
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
    state: str | None = typer.Option(None, "--state", help="Only jobs in this state."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    server: str | None = ServerOpt,
) -> None:
    """List jobs you can see (``jobs cancel ID`` cancels one)."""
    if ctx.invoked_subcommand is not None:
        return
    with _client(server) as c:
        items = c.jobs(tenant=tenant, state=state)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for j in items:
        t = j["tasks"]
        typer.echo(
            f"{j['id']}  {j['tenant']:<16} {j['name']:<24} {j['state']:<10} "
            f"{t['done']}/{t['total']}  {j['submitted_at']}"
        )


def cancel(
    job_id: str = typer.Argument(..., help="Job id."),
    wait: float = typer.Option(
        30.0, "--wait", help="Seconds to wait for the job to stop (0: don't wait)."
    ),
    server: str | None = ServerOpt,
) -> None:
    """Cancel a queued or running job; waits until its tasks have stopped."""
    with _client(server) as c:
        job = c.job(job_id)
        data = job.cancel()
        if wait > 0 and data["state"] not in ("succeeded", "failed", "cancelled"):
            try:
                data = job.wait(timeout=wait, poll=0.2)
            except TimeoutError:
                raise RiskgridError(
                    f"job {job_id}: cancellation requested, but still {job.data['state']} "
                    f"after {wait:g} s; `riskgrid jobs` shows when it stops"
                ) from None
    typer.echo(f"{job_id}: {data['state']}")
    if data["state"] != "cancelled":
        raise typer.Exit(1)  # it finished before the cancellation reached it


def results(
    job_id: str = typer.Argument(..., help="Job id."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Download every file here."),
    server: str | None = ServerOpt,
) -> None:
    """Print a finished job's result.json, or download all its files with -o."""
    with _client(server) as c:
        job = c.job(job_id)
        if out is None:
            typer.echo(json.dumps(c._json("GET", f"/v1/jobs/{job_id}/result"), indent=2))
            return
        for path in job.download(out):
            typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add the client commands to the root app."""
    app.command("login")(login)
    app.command("submit")(submit)
    jobs_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    jobs_app.callback()(jobs)
    jobs_app.command("cancel")(cancel)
    app.add_typer(jobs_app, name="jobs")
    app.command("results")(results)


def register_tenant_commands(tenant_app: typer.Typer) -> None:
    """Add ``tenant create`` and ``tenant get`` (API calls) to the tenancy area's group."""

    @tenant_app.command("create")
    def tenant_create(
        file: Path = typer.Argument(..., help="Tenant YAML file."),
        server: str | None = ServerOpt,
    ) -> None:
        """Onboard a tenant through the API (platform admins)."""
        from riskgrid.spec.tenant import load_tenant

        tenant = load_tenant(file)  # precise local errors before anything is sent
        doc = tenant.model_dump(mode="json", by_alias=True, exclude_none=True)
        with _client(server) as c:
            view = c.create_tenant(doc)
        v = view["verification"]
        typer.echo(
            f"created tenant {view['name']} (namespace {view['namespace']}): "
            f"{len(view['bundle'])} objects, verification {'OK' if v['ok'] else 'FAILED'}"
        )

    @tenant_app.command("get")
    def tenant_get(
        name: str = typer.Argument(..., help="Tenant name."),
        bundle: bool = typer.Option(False, "--bundle", help="Print the rendered bundle too."),
        server: str | None = ServerOpt,
    ) -> None:
        """Show a tenant from the API, with its verification result."""
        with _client(server) as c:
            view = c.tenant(name)
        if not bundle:
            view = {k: v for k, v in view.items() if k != "bundle"}
        typer.echo(json.dumps(view, indent=2))
