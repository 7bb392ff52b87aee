"""``run_job``: plan → engine → aggregate → results directory, for one loaded RiskJob.

This is the library entry point behind ``riskgrid run`` and the service's job runner:

- ``engine``: ``"local"`` (process pool, default), ``"ray"``, or an engine object;
- ``progress(done, total)`` is called as tasks finish; ``cancel`` (an ``Event`` or a
  callable) stops the run, which then returns a ``cancelled`` result;
- ``checkpoint`` (a directory) saves each finished task and, on a restart with the same
  inputs, loads finished tasks instead of recomputing them;
- ``out_dir`` receives the results directory (only for a completed run).

A run that cannot complete returns a ``failed`` result whose message names the task and the
error; it never carries measures. Ctrl-C (``KeyboardInterrupt``) stops the workers and
propagates. Bad arguments raise :class:`~riskgrid.spec.errors.RiskgridError`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import riskgrid
from riskgrid.grid import faults
from riskgrid.grid.aggregate import Aggregates, Assembly, aggregate, theta_report
from riskgrid.grid.checkpoint import CheckpointStore
from riskgrid.grid.engine import DEFAULT_MAX_RETRIES, Engine, JobCancelled, JobFailed, RunStats
from riskgrid.grid.fingerprint import input_hashes
from riskgrid.grid.jobtask import RiskContext, calibrate, run_risk_task
from riskgrid.grid.local import LocalPoolEngine
from riskgrid.grid.planner import (
    DEFAULT_COST,
    DEFAULT_TARGET_TASK_SECONDS,
    MAX_TASK_SECONDS,
    MIN_TASK_SECONDS,
    Plan,
    plan,
    plan_blocks,
)
from riskgrid.grid.progress import ProgressCallback
from riskgrid.grid.ray_engine import RayEngine
from riskgrid.grid.results import POSITIONS_LIMIT, output_names, write_results
from riskgrid.grid.tasks import Task
from riskgrid.spec.errors import RiskgridError
from riskgrid.spec.result import Result

CancelLike = threading.Event | Callable[[], bool]


@dataclass
class Execution:
    """A run's result plus the arrays behind it (for notebooks and tests)."""

    result: Result
    pnl: np.ndarray | None = None
    aggregates: Aggregates | None = None
    out_dir: Path | None = None


def make_engine(engine: str, workers: int | None, ray_address: str | None) -> Engine:
    if engine == "local":
        if ray_address:
            raise RiskgridError("--ray-address needs --engine ray")
        return LocalPoolEngine(workers, preload=("numpy", "riskgrid.grid.jobtask"))
    if engine == "ray":
        return RayEngine(workers, address=ray_address)
    raise RiskgridError(f"unknown engine {engine!r}; choose local or ray")


def _cancel_check(cancel: CancelLike | None) -> Callable[[], bool] | None:
    if cancel is None:
        return None
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


def _target_seconds(inputs: Any, override: float | None) -> float:
    value = override
    if value is None:
        grid = getattr(inputs.job.spec, "grid", None)
        value = getattr(grid, "target_task_seconds", None) or DEFAULT_TARGET_TASK_SECONDS
    if not MIN_TASK_SECONDS <= value <= MAX_TASK_SECONDS:
        raise RiskgridError(
            f"target task seconds must be between {MIN_TASK_SECONDS} and {MAX_TASK_SECONDS}, "
            f"got {value}"
        )
    return float(value)


def execute(
    inputs: Any,
    *,
    engine: str | Engine = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    **options: Any,
) -> Execution:
    """Like :func:`run_job`, but also returns the P&L matrix and aggregates.

    Options: ``progress``, ``out_dir``, ``checkpoint``, ``cancel``, ``max_retries``,
    ``target_task_seconds``, ``block_rows``/``block_cols`` (fixed block sizes instead of the
    planner's), ``calibrate_cost`` (measure the cost model; default true), ``positions_limit``
    (largest positions × scenarios matrix written to Parquet), ``load_seconds`` (reported).
    An engine object passed in is used as is and left open; a named one is created, started
    and closed here.
    """
    if isinstance(engine, str):
        eng = make_engine(engine, workers, ray_address)
        try:
            # Local: boot workers now, their imports overlap with calibration below.
            # Ray: start/connect now, so the planner sees the cluster's CPU count.
            eng.start()
            return _execute(eng, inputs, ray_address=ray_address, **options)
        finally:
            eng.close()
    return _execute(engine, inputs, ray_address=ray_address, **options)


def _execute(
    eng: Engine,
    inputs: Any,
    *,
    ray_address: str | None = None,
    progress: ProgressCallback | None = None,
    out_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    cancel: CancelLike | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    target_task_seconds: float | None = None,
    block_rows: int | None = None,
    block_cols: int | None = None,
    calibrate_cost: bool = True,
    positions_limit: int = POSITIONS_LIMIT,
    load_seconds: float = 0.0,
) -> Execution:
    if max_retries < 0:
        raise RiskgridError("max retries must be ≥ 0")
    t_start = time.perf_counter()
    job = inputs.job
    m = inputs.measures
    portfolio, scenarios = inputs.portfolio, inputs.scenarios
    ctx = RiskContext(
        portfolio, inputs.market, scenarios, bool(m.greeks), int(m.theta_horizon_days)
    )
    target = _target_seconds(inputs, target_task_seconds)
    hashes = input_hashes(inputs)

    # -- plan --------------------------------------------------------------------------------
    cost = calibrate(ctx) if calibrate_cost else DEFAULT_COST
    the_plan: Plan = plan(
        portfolio.n,
        scenarios.n,
        cost=cost,
        workers=eng.workers,
        target_task_seconds=target,
        greeks=ctx.greeks,
    )
    if block_rows or block_cols:
        the_plan = plan_blocks(
            portfolio.n,
            scenarios.n,
            block_rows=block_rows or the_plan.block_rows,
            block_cols=block_cols or the_plan.block_cols,
            pos_block_rows=block_rows or the_plan.pos_block_rows,
            greeks=ctx.greeks,
        )
    store = CheckpointStore(checkpoint) if checkpoint is not None else None
    if store is not None:
        recorded = store.open(hashes["fingerprint"], the_plan.describe())
        if recorded != the_plan.describe():
            the_plan = plan_blocks(
                portfolio.n,
                scenarios.n,
                block_rows=int(recorded["blockRows"]),
                block_cols=int(recorded["blockCols"]),
                pos_block_rows=int(recorded["posBlockRows"]),
                greeks=ctx.greeks,
                estimated_seconds=float(recorded.get("estimatedSeconds", 0.0)),
            )
    tasks = the_plan.tasks
    asm = Assembly(portfolio.n, scenarios.n, ctx.greeks)
    from_checkpoint = 0
    if store is not None:
        for t in tasks:
            saved = store.load(t.key)
            if saved is not None:
                asm.place(t, saved)
                from_checkpoint += 1
    todo = [t for t in tasks if t.key not in asm.done]
    t_planned = time.perf_counter()

    # -- run ---------------------------------------------------------------------------------
    done = len(tasks) - len(todo)
    if progress is not None:
        progress(done, len(tasks))

    def on_result(task: Task, value: Any) -> None:
        nonlocal done
        asm.place(task, value)
        if store is not None:
            store.save(task.key, value)
        done += 1
        if progress is not None:
            progress(done, len(tasks))

    fn = faults.from_environment(run_risk_task, tasks)
    stats = RunStats(submitted=len(todo))
    status, message = "completed", None
    try:
        stats = eng.run(
            fn,
            ctx,
            todo,
            on_result=on_result,
            cancel=_cancel_check(cancel),
            max_retries=max_retries,
        )
        asm.check_complete(tasks)
    except JobFailed as exc:
        status, message, stats = "failed", f"job failed: {exc}", exc.stats
    except JobCancelled as exc:
        status, message, stats = "cancelled", f"job {exc}", exc.stats
    n_workers = eng.workers
    t_ran = time.perf_counter()

    outputs = (
        output_names(
            m.group_by, portfolio.n, scenarios.n, positions_limit, theta=m.theta_horizon_days > 0
        )
        if status == "completed" and out_dir is not None
        else {}
    )
    agg = None
    if status == "completed":
        agg = aggregate(
            asm,
            portfolio,
            var_levels=m.var,
            es_levels=m.es,
            group_by=m.group_by,
            top_n=m.top_contributors,
            convention=m.convention,
        )
    t_agg = time.perf_counter()
    result = Result.model_validate(
        {
            "job": job.metadata.name,
            "valuationDate": job.spec.valuation_date.isoformat(),
            "baseCurrency": inputs.market.base_currency,
            "status": status,
            "message": message,
            "engine": eng.name,
            "workers": n_workers,
            "rayAddress": ray_address,
            "positions": portfolio.n,
            "scenarios": scenarios.n,
            "convention": m.convention,
            "portfolio": agg.portfolio if agg else None,
            "groups": agg.groups if agg else {},
            "topContributors": agg.top if agg else None,
            "greeks": agg.greeks if agg else {},
            "theta": theta_report(agg, portfolio, m.theta_horizon_days) if agg else None,
            "tasks": {
                "total": len(tasks),
                "completed": from_checkpoint + stats.completed,
                "retried": stats.retried,
                "failed": stats.failed,
                "attempts": stats.attempts,
                "fromCheckpoint": from_checkpoint,
                "workerDeaths": stats.worker_deaths,
            },
            "plan": {
                "blockRows": the_plan.block_rows,
                "blockCols": the_plan.block_cols,
                "posBlockRows": the_plan.pos_block_rows,
                "targetTaskSeconds": target,
                "costPerElementSeconds": cost.per_element,
                "calibrated": cost.measured,
            },
            "timings": {
                "loadSeconds": load_seconds,
                "planSeconds": t_planned - t_start,
                "runSeconds": t_ran - t_planned,
                "aggregateSeconds": t_agg - t_ran,
                "totalSeconds": time.perf_counter() - t_start + load_seconds,
            },
            "inputs": hashes,
            "outputs": outputs,
            "riskgridVersion": riskgrid.__version__,
        }
    )
    written = None
    if agg is not None and out_dir is not None:
        written = write_results(out_dir, result, agg, asm.pnl, portfolio, scenarios.labels)
    return Execution(result, asm.pnl if agg else None, agg, written)


def run_job(inputs: Any, **kwargs: Any) -> Result:
    """Run one loaded job (see the module docstring and :func:`execute` for the options)."""
    return execute(inputs, **kwargs).result
