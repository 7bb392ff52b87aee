"""The ``riskgrid`` command: a thin shell that wires each area's commands together.

Each ``riskgrid.cli.<area>`` module exposes ``register(app)``; errors of type
:class:`~riskgrid.spec.errors.RiskgridError` print as ``file: field: reason`` on stderr and exit 2.
"""

from __future__ import annotations

import sys

import typer

from riskgrid.cli import (
    audit,
    burst,
    client,
    cluster,
    exposure,
    image,
    netpol,
    platform,
    policy,
    run,
    schema,
    serve,
    tenant,
    threats,
)
from riskgrid.spec.errors import RiskgridError

app = typer.Typer(
    name="riskgrid",
    help="Secure, self-service grid risk calculation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Secure, self-service grid risk calculation."""


for _area in (
    run,
    exposure,
    schema,
    policy,
    tenant,
    platform,
    netpol,
    threats,
    image,
    serve,
    client,
    audit,
    burst,
    cluster,
):
    _area.register(app)


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
