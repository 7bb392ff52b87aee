"""The ``riskgrid`` command: a thin shell that wires each area's commands together.

Each ``riskgrid.cli.<area>`` module exposes ``register(app)``; errors of type
:class:`~riskgrid.spec.errors.RiskgridError` print as ``file: field: reason`` on stderr and exit 2.

Areas are registered lazily: the root command knows each top-level name, the area module that
defines it and its one-line help (:data:`COMMANDS`), and imports that module only when the
command is actually run (or its own ``--help`` is asked for). ``riskgrid --help`` and a command
of one area therefore never pay for the imports of the others (pydantic models, NumPy, the
threat model, …). ``tests/test_cli_startup.py`` checks that the table matches what each module
registers, and that importing this module pulls in no heavy dependency.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from riskgrid.spec.errors import RiskgridError

# Top-level command → (``riskgrid.cli`` module that registers it, its one-line help). The order
# is the order of ``riskgrid --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Run a RiskJob: PV, VaR, ES (per group) and Greeks, on a local pool or Ray."),
    "schema": ("schema", "Print the JSON Schema of a riskgrid resource or output format."),
    "serve": ("serve", "Run the self-service API server (FastAPI under uvicorn)."),
    "login": (
        "client",
        "Store the server and a bearer token (file mode 0600) after checking them.",
    ),
    "submit": ("client", "Submit a job (with the files it references) to a tenant."),
    "results": (
        "client",
        "Print a finished job's result.json, or download all its files with -o.",
    ),
    "exposure": ("exposure", "Counterparty exposure (EE, PFE, EEPE) and CVA/DVA."),
    "policy": ("policy", "Rego guardrails: check, list, exceptions, export."),
    "tenant": ("tenant", "Render, prove and apply tenant (risk desk) bundles."),
    "platform": ("platform", "Cluster-wide platform bundle."),
    "netpol": ("netpol", "Network policy analysis (Kubernetes + Calico tiers)."),
    "threats": ("threats", "The platform's threat model: validate, verify, report, gate."),
    "image": (
        "image",
        "Verify images (signature, SBOM, scan) against a trust policy; sign them (dev).",
    ),
    "dev": ("serve", "Development mode helpers (local signing key; never for production)."),
    "jobs": ("client", "List jobs you can see (``jobs cancel ID`` cancels one)."),
    "audit": ("audit", "The service's append-only audit log."),
    "burst": ("burst", "Cloud bursting: plan and simulate."),
    "cluster": ("cluster", "Audit a running cluster: snapshot, policy audit, reachability, drift."),
}


def load_area(module: str) -> TyperGroup:
    """Import ``riskgrid.cli.<module>`` and return the click group of what it registers."""
    area = importlib.import_module(f"riskgrid.cli.{module}")
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    area.register(holder)
    return typer.main.get_group(holder)


class _Deferred(TyperCommand):
    """Stands in for a command until it is resolved: a name and a help line, nothing imported."""

    def __init__(self, name: str, module: str, short_help: str) -> None:
        super().__init__(name, help=short_help)
        self.module = module


class LazyGroup(TyperGroup):
    """The root group: deferred commands are swapped for the real ones when they are resolved."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (module, short_help) in COMMANDS.items():
            self.commands.setdefault(name, _Deferred(name, module, short_help))

    # Help listings ask get_command for every command and get the stand-in. Running a command
    # (or asking for its own --help) goes through resolve_command, which imports the real one.
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if isinstance(cmd, _Deferred) and name is not None:
            real = load_area(cmd.module).commands[name]
            self.commands[name] = real
            cmd = real
        return name, cmd, rest


app = typer.Typer(
    name="riskgrid",
    help="Secure, self-service grid risk calculation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    """Secure, self-service grid risk calculation."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    try:
        # Standalone mode: click prints usage errors itself and exits 2.
        app(args=argv, prog_name="riskgrid")
    except RiskgridError as exc:
        text = str(exc)
        print(f"error: {text}" if "\n" not in text else f"error:\n{text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
