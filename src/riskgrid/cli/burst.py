"""``riskgrid burst plan|simulate``: size a job's burst, simulate a day of submissions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

DEFAULT_PLATFORM = Path("examples/platform/capacity-plan.yaml")


def register(app: typer.Typer) -> None:
    """Add ``burst`` to the root app."""
    burst_app = typer.Typer(help="Cloud bursting: plan and simulate.", no_args_is_help=True)
    app.add_typer(burst_app, name="burst")

    @burst_app.command("plan")
    def plan(
        job: Path = typer.Argument(..., help="RiskJob YAML."),
        deadline: str = typer.Option(..., "--deadline", help="HH:MM the job must finish by."),
        platform: Path = typer.Option(DEFAULT_PLATFORM, "--platform", help="CapacityPlan YAML."),
        desk: str | None = typer.Option(None, "--desk", help="Desk (default: the plan's first)."),
        now: str | None = typer.Option(None, "--now", help="Start HH:MM (default: now, UTC)."),
        copies: int = typer.Option(1, "--copies", min=1, help="Run the job this many times."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Core-seconds from the calibrated cost model, and the capacity to meet a deadline."""
        from riskgrid.burst.report import burst_plan_for_job, format_plan

        start = now or dt.datetime.now(dt.UTC).strftime("%H:%M")
        result = burst_plan_for_job(
            job, platform, deadline=deadline, start=start, desk=desk, copies=copies
        )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            typer.echo(format_plan(result))

    @burst_app.command("simulate")
    def simulate(
        day: Path = typer.Argument(..., help="CapacityDay YAML."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        chart: Path | None = typer.Option(None, "--chart", help="Write a PNG chart here."),
    ) -> None:
        """Simulate a day of desk submissions: on-premises only vs burst, side by side."""
        from riskgrid.burst.day import load_and_simulate, summary
        from riskgrid.burst.report import format_simulation

        loaded, outcomes = load_and_simulate(day)
        result = summary(loaded, outcomes)
        if chart is not None:
            from riskgrid.burst.chart import write_chart

            write_chart(outcomes, chart, title=loaded.metadata.name)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            typer.echo(format_simulation(result))
            if chart is not None:
                typer.echo(f"chart: {chart}")
