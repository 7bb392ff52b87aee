"""``riskgrid exposure run JOB.yaml``: counterparty exposure, CVA and DVA on the grid.

A thin shell over :func:`riskgrid.grid.exposure.run_exposure`: load and check the
ExposureJob, run its path blocks on the local pool or Ray, print a table per netting set (or
``result.json`` with ``--json``), write ``result.json`` + ``profiles.parquet`` (and an EE/PFE
chart with ``--png``). Exit codes: 0 done, 1 the run failed, 2 bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import typer
from rich.console import Console
from rich.table import Table

from riskgrid.cli.run import EngineName


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Counterparty exposure (EE, PFE, EEPE) and CVA/DVA.", no_args_is_help=True
    )
    app.add_typer(sub, name="exposure")

    @sub.command("run")
    def run(
        job_file: Path = typer.Argument(..., help="ExposureJob YAML file."),
        out: Path | None = typer.Option(
            None, "-o", "--out", help="Results directory (default: results/<job name>/)."
        ),
        engine: EngineName | None = typer.Option(None, "--engine", help="local or ray."),
        ray_address: str | None = typer.Option(None, "--ray-address", help="A Ray cluster."),
        workers: int | None = typer.Option(None, "--workers", min=1, help="Workers."),
        paths_per_task: int | None = typer.Option(
            None, "--paths-per-task", min=64, help="Paths per task (a multiple of 64)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print result.json only."),
        png: Path | None = typer.Option(None, "--png", help="Write an EPE/ENE/PFE chart here."),
        checkpoint: Path | None = typer.Option(
            None, "--checkpoint", help="Save finished path blocks here; a rerun resumes."
        ),
    ) -> None:
        """Simulate exposures of every netting set; CVA/DVA, EEPE and CVA sensitivities."""
        from riskgrid.grid.engine import JobFailed
        from riskgrid.grid.exposure import run_exposure
        from riskgrid.grid.exposure_results import to_result, write_exposure_results
        from riskgrid.spec.errors import RiskgridError
        from riskgrid.spec.exposure import job_fingerprint, load_exposure_job

        if engine is EngineName.local and ray_address:
            raise RiskgridError("--ray-address needs --engine ray")
        engine_name = (engine or (EngineName.ray if ray_address else EngineName.local)).value
        job, setup = load_exposure_job(job_file)
        try:
            ex = run_exposure(
                setup,
                engine=engine_name,
                workers=workers,
                ray_address=ray_address,
                paths_per_task=paths_per_task,
                checkpoint=checkpoint,
                fingerprint=job_fingerprint(job),
            )
        except JobFailed as exc:
            print(f"error: exposure run failed: {exc}\n  no results were written", file=sys.stderr)
            raise typer.Exit(1) from None
        result = to_result(job.metadata.name, setup.as_of.isoformat(), setup.base, ex)
        out_dir = write_exposure_results(out or Path("results") / job.metadata.name, result, ex)
        if png is not None:
            from riskgrid.grid.exposure_chart import write_chart

            write_chart(png, ex, setup.base)
        if as_json:
            typer.echo(result.model_dump_json(by_alias=True, indent=2))
            return
        t = Table(title=f"{job.metadata.name} — {setup.as_of} ({setup.base})", title_justify="left")
        for col in ("netting set", "counterparty", "CVA", "± SE", "DVA", "EEPE", "peak EPE"):
            t.add_column(col, justify="left" if col in ("netting set", "counterparty") else "right")
        for q in setup.quantiles:
            t.add_column(f"peak PFE {q:.0%}", justify="right")
        for ns in result.netting_sets:
            t.add_row(
                ns.name,
                ns.counterparty,
                _money(ns.cva),
                _money(ns.cva_standard_error),
                _money(ns.dva),
                _money(ns.eepe),
                _money(ns.peak_epe),
                *[_money(v) for v in ns.peak_pfe.values()],
            )
        console = Console(width=None if sys.stdout.isatty() else 140)
        console.print(t)
        s = result.stats
        n_scenarios = len(cast(list[str], s["scenarios"]))
        console.print(
            f"{s['paths']} paths × {s['dates']} dates × {s['trades']} trades · "
            f"{n_scenarios} scenario(s) · engine {s['engine']} × {s['workers']} · "
            f"{s['tasks']} tasks · simulate {s['simulateSeconds']:.2f} s · results: {out_dir}"
        )
