"""``riskgrid run JOB.yaml``: run a RiskJob on the grid and report PV, VaR and ES.

A thin shell over :func:`riskgrid.grid.runner.execute`: load the job, run it, print a summary
(or ``result.json`` with ``--json``), write the results directory. Exit codes: 0 completed,
1 failed (including an engine that could not start within its deadline), 2 bad input,
130 interrupted (Ctrl-C; workers are stopped, nothing is written).
"""

from __future__ import annotations

import contextlib
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from riskgrid.spec.result import Measures, Result

if TYPE_CHECKING:
    from riskgrid.grid.budget import Budget


class EngineName(StrEnum):
    local = "local"
    ray = "ray"


def _money(x: float) -> str:
    return f"{x:,.0f}"


def summary_tables(result: Result) -> list[Table]:
    """PV/VaR/ES per desk (or the first grouping) and total, then the top VaR contributors."""
    assert result.portfolio is not None
    port = result.portfolio
    var_keys, es_keys = list(port.var), list(port.es)
    key = "desk" if "desk" in result.groups else next(iter(result.groups), None)
    ccy = f" ({result.base_currency})" if result.base_currency else ""
    conv = "" if result.convention == "quantile" else f", VaR/ES {result.convention}"
    caption = None
    if result.theta is not None:
        caption = f"theta over {result.theta.horizon_days}d: {_money(result.theta.total)}"
    t = Table(
        title=f"{result.job} — {result.valuation_date}{ccy}{conv}",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    t.add_column(key or "portfolio", no_wrap=True)
    t.add_column("positions", justify="right")
    t.add_column("PV", justify="right", no_wrap=True)
    for c in var_keys:
        t.add_column(f"VaR {float(c):.1%}", justify="right", no_wrap=True)
    for c in es_keys:
        t.add_column(f"ES {float(c):.1%}", justify="right", no_wrap=True)

    def row(name: str, m: Measures, style: str | None = None) -> None:
        cells = [name, str(m.positions), _money(m.pv)]
        cells += [_money(m.var[c]) for c in var_keys] + [_money(m.es[c]) for c in es_keys]
        t.add_row(*cells, style=style)

    for label, m in (result.groups.get(key, {}) if key else {}).items():
        row(label, m)
    row("total", port, style="bold")
    tables = [t]
    top = result.top_contributors
    if top and top.positions:
        tc = Table(
            title=f"Top VaR contributors (VaR {float(top.confidence):.1%})", title_justify="left"
        )
        for col in ("position", "desk", "underlying", "component VaR", "share"):
            tc.add_column(col, justify="right" if col in ("component VaR", "share") else "left")
        for p in top.positions:
            tc.add_row(
                p.id,
                p.groups.get("desk", ""),
                p.groups.get("underlying", ""),
                _money(p.component_var),
                f"{p.share:.1%}",
            )
        tables.append(tc)
    return tables


def _print_rayjob(job_file: Path, tenant_file: Path, **options: Any) -> None:
    """``--kuberay``: render, prove and print the RayJob; exit 1 if it would not run as meant."""
    import yaml

    from riskgrid.spec.job import load_job
    from riskgrid.spec.tenant import load_tenant
    from riskgrid.tenancy.rayjob import check_rayjob, render_rayjob

    job = load_job(job_file).job  # the job must be valid before it is shipped anywhere
    tenant = load_tenant(tenant_file)
    rayjob = render_rayjob(job.metadata.name, tenant, **options)
    problems = check_rayjob(rayjob, tenant)
    if problems:
        for problem in problems:
            print(f"error: {tenant_file}: {problem}", file=sys.stderr)
        raise typer.Exit(1)
    typer.echo(yaml.safe_dump(rayjob, sort_keys=False), nl=False)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the root app."""

    @app.command("run")
    def run(
        job_file: Path = typer.Argument(..., help="RiskJob YAML file."),
        out: Path | None = typer.Option(
            None, "-o", "--out", help="Results directory (default: results/<job name>/)."
        ),
        engine: EngineName | None = typer.Option(
            None, "--engine", help="local (process pool, default) or ray."
        ),
        ray_address: str | None = typer.Option(
            None, "--ray-address", help="Connect to this Ray cluster (implies --engine ray)."
        ),
        workers: int | None = typer.Option(
            None, "--workers", min=1, help="Worker processes / Ray CPUs (default: all cores)."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print result.json on stdout (and nothing else)."
        ),
        max_retries: int = typer.Option(2, "--max-retries", min=0, help="Retries per task."),
        target_task_seconds: float | None = typer.Option(
            None,
            "--target-task-seconds",
            help="Planner's target seconds per task, 0.05–5 (default: job's spec.grid).",
        ),
        checkpoint: Path | None = typer.Option(
            None, "--checkpoint", help="Save finished tasks here; a rerun resumes from them."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
        device: str = typer.Option(
            "cpu",
            "--device",
            help="cpu (NumPy) or gpu (CuPy, optional extra `gpu`): Monte Carlo kernels.",
        ),
        max_tasks: int | None = typer.Option(
            None,
            "--max-tasks",
            min=1,
            envvar="RISKGRID_MAX_TASKS",
            help="Refuse a job planned with more tasks (default 1,000,000).",
        ),
        max_driver_memory: str | None = typer.Option(
            None,
            "--max-driver-memory",
            envvar="RISKGRID_MAX_DRIVER_MEMORY",
            help="Refuse a job whose estimated driver memory exceeds this (default 8GiB).",
        ),
        max_worker_memory: str | None = typer.Option(
            None,
            "--max-worker-memory",
            envvar="RISKGRID_MAX_WORKER_MEMORY",
            help="Refuse a job whose estimated memory per worker exceeds this (default 4GiB).",
        ),
        work_dir: Path | None = typer.Option(
            None,
            "--work-dir",
            envvar="RISKGRID_WORK_DIR",
            help="Where the run keeps its P&L shards (default: the system temp directory).",
        ),
        startup_timeout: float = typer.Option(
            120.0, "--startup-timeout", min=0.1, help="Seconds for workers / Ray to start."
        ),
        job_timeout: float = typer.Option(
            6 * 3600.0, "--job-timeout", min=0.1, help="Seconds for the whole run."
        ),
        task_timeout_factor: float = typer.Option(
            10.0,
            "--task-timeout-factor",
            min=0.0,
            help="A task is stopped and retried after this × its estimated time (0: never).",
        ),
        task_timeout_min: float = typer.Option(
            60.0, "--task-timeout-min", min=0.1, help="…but never before this many seconds."
        ),
        speculation: bool = typer.Option(
            True, "--speculation/--no-speculation", help="Duplicate straggling last tasks."
        ),
        in_process: bool | None = typer.Option(
            None,
            "--in-process/--pool",
            help="Local engine: run in this process, or on the worker pool (default: in "
            "process when the job is estimated cheaper than starting a worker).",
        ),
        kuberay: Path | None = typer.Option(
            None,
            "--kuberay",
            help="Run nothing: print the KubeRay RayJob that runs this job on TENANT.yaml's "
            "RayCluster (validated: CRD schema, policy library, Kueue queue).",
        ),
        kuberay_job_path: str | None = typer.Option(
            None,
            "--kuberay-job-path",
            help="The job YAML's path on the Ray head (default /data/jobs/<file name>).",
        ),
        kuberay_results: str = typer.Option(
            "/data/results", "--kuberay-results", help="Results root on the Ray head."
        ),
    ) -> None:
        """Run a RiskJob: PV, VaR, ES (per group) and Greeks, on a local pool or Ray."""
        from riskgrid.grid.budget import BudgetExceeded
        from riskgrid.grid.engine import EngineUnavailable
        from riskgrid.grid.progress import reporter_for
        from riskgrid.grid.runner import execute
        from riskgrid.spec.errors import RiskgridError, SpecError
        from riskgrid.spec.job import load_job

        if engine is EngineName.local and ray_address:
            raise RiskgridError("--ray-address needs --engine ray")
        engine_name = (engine or (EngineName.ray if ray_address else EngineName.local)).value
        if kuberay is not None:
            _print_rayjob(
                job_file,
                kuberay,
                job_path=kuberay_job_path or f"/data/jobs/{job_file.name}",
                results_dir=kuberay_results,
                job_timeout=job_timeout,
                startup_timeout=startup_timeout,
                max_retries=max_retries,
            )
            return
        budget = _budget(max_tasks, max_driver_memory, max_worker_memory)
        from riskgrid.grid.device import use_device

        t0 = time.perf_counter()
        inputs = use_device(load_job(job_file), device)
        load_seconds = time.perf_counter() - t0
        out_dir = out or Path("results") / inputs.job.metadata.name
        reporter = None if quiet else reporter_for(sys.stderr, label=inputs.job.metadata.name)
        # With --json, stdout carries result.json only: whatever the engine prints meanwhile (Ray's
        # driver prints cluster events such as a lost raylet to stdout) goes to stderr.
        quiet_stdout = (
            contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
        )
        try:
            with quiet_stdout:
                ex = execute(
                    inputs,
                    engine=engine_name,
                    workers=workers,
                    ray_address=ray_address,
                    progress=reporter,
                    out_dir=out_dir,
                    checkpoint=checkpoint,
                    max_retries=max_retries,
                    target_task_seconds=target_task_seconds,
                    load_seconds=load_seconds,
                    startup_timeout=startup_timeout,
                    job_timeout=job_timeout,
                    task_timeout_factor=task_timeout_factor,
                    task_timeout_min=task_timeout_min,
                    speculation=speculation,
                    in_process=in_process,
                    budget=budget,
                    work_dir=work_dir,
                )
        except BudgetExceeded as exc:
            raise SpecError.one(str(job_file), str(exc)) from None
        except EngineUnavailable as exc:
            print(f"error: engine {engine_name} could not start: {exc}", file=sys.stderr)
            print("  no results were written", file=sys.stderr)
            raise typer.Exit(1) from None
        finally:
            if reporter is not None:
                reporter.close()
        ex.close()  # the shards: the results directory holds what the user asked for
        _report(ex.result, ex.out_dir, as_json=as_json)


def _budget(max_tasks: int | None, driver: str | None, worker: str | None) -> Budget:
    """The job's :class:`~riskgrid.grid.budget.Budget` from the command's limits."""
    from riskgrid.grid.budget import Budget, parse_bytes

    default = Budget()
    return Budget(
        max_tasks=max_tasks or default.max_tasks,
        max_driver_bytes=parse_bytes(driver) if driver else default.max_driver_bytes,
        max_worker_bytes=parse_bytes(worker) if worker else default.max_worker_bytes,
    )


def _report(result: Result, out_dir: Path | None, *, as_json: bool) -> None:
    """Print result.json (``--json``) or the summary tables; exit 1 for a run that failed."""
    if as_json:
        typer.echo(result.model_dump_json(by_alias=True, indent=2))
    if result.status != "completed":
        print(f"error: {result.message}", file=sys.stderr)
        if result.tasks.retried:
            print(f"  ({result.tasks.retried} task(s) were retried)", file=sys.stderr)
        print("  no results were written", file=sys.stderr)
        raise typer.Exit(1)
    if not as_json:
        # Off a terminal rich assumes 80 columns and would cut the amounts; logs can be wider.
        console = Console(width=None if sys.stdout.isatty() else 140)
        for table in summary_tables(result):
            console.print(table)
        tk = result.tasks
        where = (
            "in process (cheaper than starting workers)"
            if result.plan is not None and result.plan.in_process
            else f"× {result.workers} workers"
        )
        console.print(
            f"engine {result.engine} {where} · {tk.total} tasks "
            f"({tk.retried} retried, {tk.from_checkpoint} from checkpoint) · "
            f"{result.timings.total_seconds:.2f} s · results: {out_dir}"
        )
