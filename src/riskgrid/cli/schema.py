"""``riskgrid schema NAME``: print a resource's or output's JSON Schema."""

from __future__ import annotations

import json

import typer

from riskgrid.spec import registry


def register(app: typer.Typer) -> None:
    """Add ``schema`` to the root app."""

    @app.command("schema")
    def schema(
        name: str = typer.Argument(..., help="Resource or output name, e.g. RiskJob, Result."),
    ) -> None:
        """Print the JSON Schema of a riskgrid resource or output format."""
        typer.echo(json.dumps(registry.json_schema(name), indent=2, sort_keys=True))
