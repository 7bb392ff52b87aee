"""``run_job``: plan → engine → aggregate → results directory, for one loaded RiskJob.

This is the library entry point behind ``riskgrid run`` and the service's job runner:

- ``engine``: ``"local"`` (process pool, default), ``"ray"``, or an engine object;
- ``progress(done, total)`` is called as tasks finish; ``cancel`` (an ``Event`` or a
  callable) stops the run, which then returns a ``cancelled`` result;
- ``checkpoint`` (a directory) saves each finished task and, on a restart with the same
  inputs, loads finished tasks instead of recomputing them;
- ``out_dir`` receives the results directory (only for a completed run);
- ``budget`` (:class:`~riskgrid.grid.budget.Budget`) refuses a job over its task or memory
  limits before anything runs or is written.

The driver streams: each task's P&L goes to a shard on disk (the checkpoint directory, or a
private work directory) and is folded into per-group scenario vectors; it never holds the
positions × scenarios matrix (``docs/grid.md``, "Memory model").

Deadlines (nothing waits forever): ``startup_timeout`` (workers / Ray must start, default
120 s), ``job_timeout`` (whole run, default 6 h), per-task timeout
``max(task_timeout_factor × estimate, task_timeout_min)`` (defaults 10× and 60 s; factor 0
turns it off) and straggler ``speculation`` (default on).

``task_events(kind, task)`` (optional) observes each task: started, retried, failed, succeeded
(the service's metrics use it).

A run that cannot complete returns a ``failed`` result whose message names the task and the
error; it never carries measures. Ctrl-C (``KeyboardInterrupt``) stops the workers and
propagates. Bad arguments raise :class:`~riskgrid.spec.errors.RiskgridError`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import riskgrid
from riskgrid.grid import budget as gb
from riskgrid.grid import faults
from riskgrid.grid.aggregate import (
    DEFAULT_REORDER_BYTES,
    Aggregates,
    Assembly,
    aggregate,
    theta_report,
)
from riskgrid.grid.checkpoint import CheckpointStore
from riskgrid.grid.engine import (
    DEFAULT_JOB_SECONDS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_SPECULATE_FACTOR,
    DEFAULT_SPECULATE_MIN_SECONDS,
    DEFAULT_STARTUP_SECONDS,
    DEFAULT_TASK_TIMEOUT_FACTOR,
    DEFAULT_TASK_TIMEOUT_MIN_SECONDS,
    Engine,
    JobCancelled,
    JobFailed,
    Limits,
    RunStats,
    TaskEventSink,
    task_timeout_from_estimate,
)
from riskgrid.grid.fingerprint import input_hashes
from riskgrid.grid.inprocess import InProcessEngine
from riskgrid.grid.jobtask import RiskContext, calibrate, estimated_cost, run_risk_task
from riskgrid.grid.local import LocalPoolEngine, spawn_seconds
from riskgrid.grid.planner import (
    DEFAULT_COST,
    DEFAULT_TARGET_TASK_SECONDS,
    MAX_TASK_SECONDS,
    MIN_TASK_SECONDS,
    CostModel,
    Plan,
    estimate_seconds,
    plan,
    plan_blocks,
    plan_from_bands,
    plan_weighted,
    task_estimate_seconds,
)
from riskgrid.grid.progress import ProgressCallback
from riskgrid.grid.ray_engine import RayEngine
from riskgrid.grid.results import POSITIONS_LIMIT, output_names, write_results
from riskgrid.grid.shards import MemoryShardStore, ShardStore
from riskgrid.grid.tasks import Task
from riskgrid.spec.errors import RiskgridError
from riskgrid.spec.result import Result

CancelLike = threading.Event | Callable[[], bool]


class Execution:
    """A run's result, its aggregates, and the P&L matrix on request (notebooks, tests).

    ``pnl`` is read from the run's shards the first time it is asked for: the driver does not
    hold the matrix during the run. The shards of a run without a checkpoint live in a private
    work directory that :meth:`close` (or garbage collection) removes.
    """

    def __init__(
        self,
        result: Result,
        aggregates: Aggregates | None = None,
        out_dir: Path | None = None,
        shards: ShardStore | None = None,
        tasks: tuple[Task, ...] = (),
        work_dir: Path | None = None,
    ):
        self.result = result
        self.aggregates = aggregates
        self.out_dir = out_dir
        self._shards = shards
        self._tasks = tasks
        self._pnl: np.ndarray | None = None
        self._cleanup = (
            weakref.finalize(self, shutil.rmtree, work_dir, True) if work_dir is not None else None
        )

    @property
    def pnl(self) -> np.ndarray | None:
        """The positions × scenarios P&L matrix of a completed run (loaded from the shards)."""
        if self._pnl is None and self._shards is not None and self.aggregates is not None:
            r = self.result
            self._pnl = self._shards.load_matrix(self._tasks, r.positions, r.scenarios)
        return self._pnl

    def close(self) -> None:
        """Remove the private work directory (the shards); ``pnl`` stays if already loaded."""
        self._shards = None
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Execution:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_engine(
    engine: str,
    workers: int | None,
    ray_address: str | None,
    *,
    startup_timeout: float = DEFAULT_STARTUP_SECONDS,
) -> Engine:
    if engine == "local":
        if ray_address:
            raise RiskgridError("--ray-address needs --engine ray")
        return LocalPoolEngine(workers, preload=("numpy", "riskgrid.grid.jobtask"))
    if engine == "ray":
        return RayEngine(workers, address=ray_address, startup_seconds=startup_timeout)
    raise RiskgridError(f"unknown engine {engine!r}; choose local or ray")


def _cancel_check(cancel: CancelLike | None) -> Callable[[], bool] | None:
    if cancel is None:
        return None
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


def _limits(
    cost: CostModel,
    greeks: bool,
    *,
    plan_seconds: dict[str, float] | None = None,
    startup_timeout: float,
    job_timeout: float,
    task_timeout_factor: float,
    task_timeout_min: float,
    speculation: bool,
) -> Limits:
    """Deadlines for one run; a task's timeout scales the planner's estimate of that task."""
    return Limits(
        startup_seconds=startup_timeout,
        job_seconds=job_timeout,
        task_timeout=task_timeout_from_estimate(
            # a weighted plan knows each task's own cost (a heavy MC block is not average)
            lambda t: (
                (plan_seconds or {}).get(t.key) or task_estimate_seconds(t, cost, greeks=greeks)
            ),
            factor=task_timeout_factor,
            min_seconds=task_timeout_min,
        ),
        speculate_factor=DEFAULT_SPECULATE_FACTOR if speculation else 0.0,
        speculate_min_seconds=DEFAULT_SPECULATE_MIN_SECONDS,
    )


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
    (largest positions × scenarios matrix written to Parquet), ``load_seconds`` (reported),
    ``budget`` (task/memory limits, checked before the run), ``work_dir`` (where a run without
    a checkpoint keeps its shards; default: the system temp directory), ``reorder_bytes``
    (memory for blocks that arrive ahead of their turn), ``in_process`` (local engine:
    ``None`` decides by cost, see :func:`_small_job`; ``True``/``False`` force it),
    ``cost_model`` (a :class:`~riskgrid.grid.planner.CostModel` instead of calibrating).
    An engine object passed in is used as is and left open; a named one is created, started
    and closed here. A named engine that cannot start (an unreachable ``ray_address``, no
    worker within ``startup_timeout``) raises :class:`~riskgrid.grid.engine.EngineUnavailable`
    before anything is written. Deadlines: ``startup_timeout``, ``job_timeout``,
    ``task_timeout_factor``, ``task_timeout_min``, ``speculation`` (module docstring).
    """
    if isinstance(engine, str):
        if engine == "local" and not ray_address:
            small, cost = _small_job(inputs, workers, options)
            if cost is not None:
                options = {**options, "cost_model": cost}  # calibrated once, not twice
            if small:
                return _execute(InProcessEngine(), inputs, ray_address=None, **options)
        eng = make_engine(
            engine,
            workers,
            ray_address,
            startup_timeout=float(options.get("startup_timeout", DEFAULT_STARTUP_SECONDS)),
        )
        try:
            # Local: boot workers now, their imports overlap with calibration below.
            # Ray: start/connect now, so the planner sees the cluster's CPU count.
            eng.start()
            return _execute(eng, inputs, ray_address=ray_address, **options)
        finally:
            eng.close()
    return _execute(engine, inputs, ray_address=ray_address, **options)


def _context(inputs: Any) -> RiskContext:
    m = inputs.measures
    return RiskContext(
        inputs.portfolio, inputs.market, inputs.scenarios, bool(m.greeks), int(m.theta_horizon_days)
    )


def _small_job(
    inputs: Any, workers: int | None, o: dict[str, Any]
) -> tuple[bool, CostModel | None]:
    """Whether a local job runs in the driver (``InProcessEngine``), and the cost model used.

    Option ``in_process``: ``True``/``False`` force it; ``None`` (default) decides: in process
    when the planner's estimate of the whole job (core-seconds) is below the break-even of
    :func:`in_process_break_even` for the measured cost of starting one worker
    (:func:`~riskgrid.grid.local.spawn_seconds`). Never with fault injection, which needs
    worker processes.
    """
    mode = o.get("in_process")
    if mode is not None:
        return bool(mode), None
    if faults.configured():
        return False, None
    ctx = _context(inputs)
    cost = estimated_cost(ctx, calibrate(ctx) if o.get("calibrate_cost", True) else DEFAULT_COST)
    pnl_s, pos_s = estimate_seconds(ctx.portfolio.n, ctx.scenarios.n, cost, greeks=ctx.greeks)
    return pnl_s + pos_s < in_process_break_even(spawn_seconds(), workers), cost


def in_process_break_even(spawn: float, workers: int | None, cpus: int | None = None) -> float:
    """Core-seconds of tasks below which a job finishes sooner in the driver than on a pool.

    ``w`` workers start in parallel, so a pool needs at least ``spawn + T/w`` for ``T``
    core-seconds of tasks (its shard files come on top), the driver ``T``: the driver wins while
    ``T < spawn·w/(w − 1)``. ``w`` is the pool's parallelism (``workers``, at most the CPUs) but
    at least 2, so the threshold never exceeds twice a worker's start: tasks in the driver cannot
    be killed, so a big job stays on a pool even with ``--workers 1``.
    """
    n_cpu = cpus or os.cpu_count() or 1
    w = max(2, min(workers or n_cpu, n_cpu))
    return spawn * w / (w - 1)


@dataclass
class _Setup:
    """What the run needs once planning is over (step 1 of ``_execute``)."""

    ctx: RiskContext
    plan: Plan
    cost: Any
    target: float
    hashes: dict[str, str]
    store: CheckpointStore | None
    t_start: float
    stats: RunStats = field(default_factory=RunStats)


def _make_plan(
    eng: Engine,
    ctx: RiskContext,
    *,
    target: float,
    calibrate_cost: bool,
    block_rows: int | None,
    block_cols: int | None,
    cost: CostModel | None = None,
) -> tuple[Plan, Any]:
    n, s = ctx.portfolio.n, ctx.scenarios.n
    if cost is None:
        # exotics: cost units × a calibrated (or default) seconds-per-unit (docs/risk.md)
        cost = estimated_cost(ctx, calibrate(ctx) if calibrate_cost else DEFAULT_COST)
    p = ctx.portfolio
    if p.exotic and not (block_rows or block_cols):
        # Monte Carlo / PDE books: cost-balanced tasks within the memory bound (docs/grid.md)
        the_plan = plan_weighted(
            p.cost_units(),
            s,
            cost=cost,
            col_bytes=p.column_bytes(),
            memory_bytes=p.settings.memory_bytes,
            workers=eng.workers,
            target_task_seconds=target,
            greeks=ctx.greeks,
        )
        return the_plan, cost
    the_plan = plan(
        n, s, cost=cost, workers=eng.workers, target_task_seconds=target, greeks=ctx.greeks
    )
    if block_rows or block_cols:
        the_plan = plan_blocks(
            n,
            s,
            block_rows=block_rows or the_plan.block_rows,
            block_cols=block_cols or the_plan.block_cols,
            pos_block_rows=block_rows or the_plan.pos_block_rows,
            greeks=ctx.greeks,
        )
    return the_plan, cost


def _recorded_plan(store: CheckpointStore, fingerprint: str, the_plan: Plan) -> Plan:
    """The checkpoint's plan (a fresh calibration could cut other blocks, with other keys)."""
    recorded = store.open(fingerprint, the_plan.describe())
    if recorded == the_plan.describe():
        return the_plan
    if "bands" in recorded:  # a cost-weighted plan: the same bands, whatever today's costs
        weights = the_plan.row_costs or (None, None, None)
        return plan_from_bands(
            the_plan.n_positions,
            the_plan.n_scenarios,
            recorded["bands"],
            recorded["posCuts"],
            greeks=the_plan.greeks,
            estimated_seconds=float(recorded.get("estimatedSeconds", 0.0)),
            row_seconds=weights[0],
            pos_row_seconds=weights[1],
            col_bytes=weights[2],
            memory_bytes=the_plan.memory_bytes,
        )
    return plan_blocks(
        the_plan.n_positions,
        the_plan.n_scenarios,
        block_rows=int(recorded["blockRows"]),
        block_cols=int(recorded["blockCols"]),
        pos_block_rows=int(recorded["posBlockRows"]),
        greeks=the_plan.greeks,
        estimated_seconds=float(recorded.get("estimatedSeconds", 0.0)),
    )


def _check_budget(inputs: Any, ctx: RiskContext, the_plan: Plan, o: dict[str, Any]) -> None:
    budget = o.get("budget") or gb.Budget()
    n_groups = sum(len(set(inputs.portfolio.groups[k].tolist())) for k in inputs.measures.group_by)
    est = gb.estimate(
        the_plan,
        n_groups=n_groups,
        context_bytes=gb.nbytes(ctx),
        reorder_bytes=o.get("reorder_bytes", DEFAULT_REORDER_BYTES),
        positions_file=o.get("out_dir") is not None
        and the_plan.n_positions * the_plan.n_scenarios
        <= o.get("positions_limit", POSITIONS_LIMIT),
    )
    gb.check(est, budget)
    limit = _budget_seconds(inputs)
    if the_plan.estimated_seconds > limit:
        p = inputs.portfolio
        raise RiskgridError(
            f"job refused: estimated cost {the_plan.estimated_seconds:,.0f} s on one core "
            f"({p.n} positions × {inputs.scenarios.n} scenarios, {len(p.mc_rows())} Monte "
            f"Carlo) exceeds spec.grid.maxCostSeconds {limit:,.0f} s; reduce paths/scenarios "
            "or raise the budget"
        )


def _budget_seconds(inputs: Any) -> float:
    grid = getattr(inputs.job.spec, "grid", None)
    return float(getattr(grid, "max_cost_seconds", None) or float("inf"))


def _monte_carlo(portfolio: Any, asm: Assembly) -> dict[str, Any] | None:
    """The ``monteCarlo`` section of result.json (None when no position is priced by MC)."""
    rows = portfolio.mc_rows()
    if not rows:
        return None
    se = asm.greek_values.get("pv_se")
    s = portfolio.settings
    return {
        "positions": len(rows),
        "paths": s.paths,
        "seed": s.seed,
        "sampling": s.sampling,
        "antithetic": s.antithetic,
        "controlVariate": s.control_variate,
        # positions use independent streams: variances add
        "pvStandardError": float(np.sqrt(np.sum(se**2))) if se is not None else 0.0,
        "maxPositionStandardError": float(se.max()) if se is not None else 0.0,
    }


def _setup(eng: Engine, inputs: Any, o: dict[str, Any]) -> _Setup:
    """Step 1: calibrate, plan, check the budget, open the checkpoint. Writes nothing before
    the budget check passed."""
    if o.get("max_retries", DEFAULT_MAX_RETRIES) < 0:
        raise RiskgridError("max retries must be ≥ 0")
    startup = o.get("startup_timeout", DEFAULT_STARTUP_SECONDS)
    job_s = o.get("job_timeout", DEFAULT_JOB_SECONDS)
    task_min = o.get("task_timeout_min", DEFAULT_TASK_TIMEOUT_MIN_SECONDS)
    if not (startup > 0 and job_s > 0 and task_min > 0):
        raise RiskgridError("startup, job and minimum task timeouts must be > 0 seconds")
    if o.get("task_timeout_factor", DEFAULT_TASK_TIMEOUT_FACTOR) < 0:
        raise RiskgridError("the task timeout factor must be ≥ 0 (0: no task timeout)")
    t_start = time.perf_counter()
    ctx = _context(inputs)
    target = _target_seconds(inputs, o.get("target_task_seconds"))
    hashes = input_hashes(inputs)
    the_plan, cost = _make_plan(
        eng,
        ctx,
        target=target,
        calibrate_cost=o.get("calibrate_cost", True),
        block_rows=o.get("block_rows"),
        block_cols=o.get("block_cols"),
        cost=o.get("cost_model"),
    )
    _check_budget(inputs, ctx, the_plan, o)
    store = None
    if o.get("checkpoint") is not None:
        store = CheckpointStore(o["checkpoint"])
        resumed = _recorded_plan(store, hashes["fingerprint"], the_plan)
        if resumed is not the_plan:
            _check_budget(inputs, ctx, resumed, o)
            the_plan = resumed
    return _Setup(ctx, the_plan, cost, target, hashes, store, t_start)


def _run_tasks(
    eng: Engine, st: _Setup, asm: Assembly, shards: ShardStore, o: dict[str, Any]
) -> tuple[str, str | None, int]:
    """Step 2: resume finished tasks from the checkpoint, run the rest, stream each result to
    its shard and into the aggregates. Returns (status, message, tasks from checkpoint)."""
    tasks = st.plan.tasks
    from_checkpoint = 0
    if st.store is not None:
        # row order (not the plan's costliest-first order), so nothing waits in the buffer
        for t in sorted(tasks, key=lambda t: (t.row_start, t.col_start)):
            saved = shards.load(t)
            if saved is not None:
                asm.place(t, saved)
                from_checkpoint += 1
    todo = [t for t in tasks if t.key not in asm.done]
    done = len(tasks) - len(todo)
    progress: ProgressCallback | None = o.get("progress")
    if progress is not None:
        progress(done, len(tasks))

    def on_result(task: Task, value: Any) -> None:
        nonlocal done
        if task.key in asm.done:
            return  # a second copy of a finished task: the first one counted
        shards.save(task, value)
        asm.place(task, value)
        done += 1
        events: TaskEventSink | None = o.get("task_events")
        if events is not None:
            events("succeeded", task)
        if progress is not None:
            progress(done, len(tasks))

    fn = faults.from_environment(run_risk_task, tasks)
    limits = _limits(
        st.cost,
        st.ctx.greeks,
        plan_seconds=st.plan.task_seconds,
        startup_timeout=o.get("startup_timeout", DEFAULT_STARTUP_SECONDS),
        job_timeout=o.get("job_timeout", DEFAULT_JOB_SECONDS),
        task_timeout_factor=o.get("task_timeout_factor", DEFAULT_TASK_TIMEOUT_FACTOR),
        task_timeout_min=o.get("task_timeout_min", DEFAULT_TASK_TIMEOUT_MIN_SECONDS),
        speculation=o.get("speculation", True),
    )
    st.stats = RunStats(submitted=len(todo))
    try:
        st.stats = eng.run(
            fn,
            st.ctx,
            todo,
            on_result=on_result,
            cancel=_cancel_check(o.get("cancel")),
            max_retries=o.get("max_retries", DEFAULT_MAX_RETRIES),
            limits=limits,
            # only when asked, so an engine object without the hook keeps working
            **({"events": o["task_events"]} if o.get("task_events") is not None else {}),
        )
        asm.check_complete(tasks)
    except JobFailed as exc:
        st.stats = exc.stats
        return "failed", f"job failed: {exc}", from_checkpoint
    except JobCancelled as exc:
        st.stats = exc.stats
        return "cancelled", f"job {exc}", from_checkpoint
    return "completed", None, from_checkpoint


def _result(
    eng: Engine,
    inputs: Any,
    st: _Setup,
    agg: Aggregates | None,
    run: tuple[str, str | None, int],
    times: tuple[float, float],
    o: dict[str, Any],
    monte_carlo: dict[str, Any] | None = None,
) -> Result:
    """Step 4: the Result document."""
    status, message, from_checkpoint = run
    t_planned, t_ran = times
    m, stats, the_plan = inputs.measures, st.stats, st.plan
    n, s = inputs.portfolio.n, inputs.scenarios.n
    outputs = (
        output_names(
            m.group_by,
            n,
            s,
            o.get("positions_limit", POSITIONS_LIMIT),
            with_pv_table=bool(inputs.portfolio.exotic),
            theta=m.theta_horizon_days > 0,
        )
        if agg is not None and o.get("out_dir") is not None
        else {}
    )
    load_seconds = o.get("load_seconds", 0.0)
    return Result.model_validate(
        {
            "job": inputs.job.metadata.name,
            "valuationDate": inputs.job.spec.valuation_date.isoformat(),
            "baseCurrency": inputs.market.base_currency,
            "status": status,
            "message": message,
            "engine": eng.name,
            "workers": eng.workers,
            "rayAddress": o.get("ray_address"),
            "positions": n,
            "scenarios": s,
            "convention": m.convention,
            "portfolio": agg.portfolio if agg else None,
            "groups": agg.groups if agg else {},
            "topContributors": agg.top if agg else None,
            "greeks": agg.greeks if agg else {},
            "theta": theta_report(agg, inputs.portfolio, m.theta_horizon_days) if agg else None,
            "monteCarlo": monte_carlo if agg else None,
            "tasks": {
                "total": len(the_plan.tasks),
                "completed": from_checkpoint + stats.completed,
                "retried": stats.retried,
                "failed": stats.failed,
                "attempts": stats.attempts,
                "fromCheckpoint": from_checkpoint,
                "workerDeaths": stats.worker_deaths,
                "timedOut": stats.timed_out,
                "speculative": stats.speculative,
                "speculativeWins": stats.speculative_wins,
                "nodes": dict(sorted(stats.nodes.items())),
            },
            "plan": {
                "blockRows": the_plan.block_rows,
                "blockCols": the_plan.block_cols,
                "posBlockRows": the_plan.pos_block_rows,
                "targetTaskSeconds": st.target,
                "costPerElementSeconds": st.cost.per_element,
                "calibrated": st.cost.measured,
                "inProcess": bool(getattr(eng, "in_process", False)),
            },
            "timings": {
                "loadSeconds": load_seconds,
                "planSeconds": t_planned - st.t_start,
                "runSeconds": t_ran - t_planned,
                "aggregateSeconds": time.perf_counter() - t_ran,
                "totalSeconds": time.perf_counter() - st.t_start + load_seconds,
            },
            "inputs": st.hashes,
            "outputs": outputs,
            "riskgridVersion": riskgrid.__version__,
        }
    )


_OPTIONS = frozenset(
    {
        "ray_address", "progress", "out_dir", "checkpoint", "cancel", "max_retries",
        "target_task_seconds", "block_rows", "block_cols", "calibrate_cost", "positions_limit",
        "load_seconds", "budget", "work_dir", "reorder_bytes", "startup_timeout", "job_timeout",
        "task_timeout_factor", "task_timeout_min", "speculation", "task_events", "in_process",
        "cost_model",
    }
)  # fmt: skip


def _execute(eng: Engine, inputs: Any, **o: Any) -> Execution:
    """plan → run (streaming to shards) → aggregate from vectors and shards → result/files."""
    unknown = sorted(set(o) - _OPTIONS)
    if unknown:
        raise TypeError(f"execute() got unexpected option(s): {', '.join(unknown)}")
    st = _setup(eng, inputs, o)
    t_planned = time.perf_counter()
    work_dir: Path | None = None
    shards: ShardStore
    if st.store is not None:
        shards = st.store.shards()
    elif isinstance(eng, InProcessEngine):
        shards = MemoryShardStore()  # a small job: no file round trip, nothing to clean up
    else:
        parent = Path(o.get("work_dir") or tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix="riskgrid-work-", dir=parent))
        shards = ShardStore(work_dir)
    try:
        m = inputs.measures
        asm = Assembly(
            inputs.portfolio,
            inputs.scenarios.n,
            m.group_by,
            st.ctx.greeks,
            shards,
            o.get("reorder_bytes", DEFAULT_REORDER_BYTES),
        )
        run = _run_tasks(eng, st, asm, shards, o)
        t_ran = time.perf_counter()
        agg = None
        if run[0] == "completed":
            agg = aggregate(
                asm,
                st.plan.tasks,
                var_levels=m.var,
                es_levels=m.es,
                top_n=m.top_contributors,
                convention=m.convention,
            )
        mc = _monte_carlo(inputs.portfolio, asm)
        result = _result(eng, inputs, st, agg, run, (t_planned, t_ran), o, mc)
        written = None
        if agg is not None and o.get("out_dir") is not None:

            def full_pnl() -> np.ndarray:
                return shards.load_matrix(st.plan.tasks, inputs.portfolio.n, inputs.scenarios.n)

            written = write_results(
                o["out_dir"],
                result,
                agg,
                full_pnl,
                inputs.portfolio,
                inputs.scenarios.labels,
                pv=asm.pv,
                pv_se=asm.greek_values.get("pv_se", np.zeros(inputs.portfolio.n)),
            )
    except BaseException:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
        raise
    if agg is None and work_dir is not None:
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir = None
    return Execution(
        result,
        agg,
        written,
        shards if agg is not None else None,
        st.plan.tasks,
        work_dir,
    )


def run_job(inputs: Any, **kwargs: Any) -> Result:
    """Run one loaded job (see the module docstring and :func:`execute` for the options)."""
    with execute(inputs, **kwargs) as ex:
        return ex.result
