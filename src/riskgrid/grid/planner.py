"""Job → tasks: blocks of positions × blocks of scenarios, sized by an estimated cost.

The planner is pure: it takes the job's shape and a cost model (seconds per P&L element and
per position for base PV/Greeks) and returns a :class:`Plan`. Calibrating the cost model (a
short measured run) is the runner's job; :data:`DEFAULT_COST` is the documented fallback.

Sizing rule: aim every task at ``target_task_seconds`` (default 0.5 s), but cut the work into at
least ``4 × workers`` tasks when that keeps each task at or above ``min_task_seconds``
(50 ms), so that all workers stay busy to the end. Scenario columns are split only when a
block of ``min_rows`` positions over all scenarios would exceed the target: whole rows
vectorise best. Results never depend on the plan (each P&L element depends only on its own
position and scenario), so the sizing is free to change from run to run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskgrid.grid.tasks import Task
from riskgrid.risk.exotics import kernel_bytes

DEFAULT_TARGET_TASK_SECONDS = 0.5
MIN_TASK_SECONDS = 0.05
MAX_TASK_SECONDS = 5.0
#: Tasks per worker the planner aims for, when tasks stay ≥ ``MIN_TASK_SECONDS``.
TASKS_PER_WORKER = 4


@dataclass(frozen=True)
class CostModel:
    """Estimated seconds per P&L element (position × scenario) and per position (PV/Greeks)."""

    per_element: float
    per_position: float
    measured: bool = False


#: Used when calibration is off: roughly one vectorised Black–Scholes revaluation per element
#: and ~10 revaluations (PV + bumped Greeks) per position on a 2020s laptop core.
DEFAULT_COST = CostModel(per_element=2e-7, per_position=5e-6, measured=False)


def estimate_seconds(
    n_positions: int, n_scenarios: int, cost: CostModel = DEFAULT_COST, *, greeks: bool = True
) -> tuple[float, float]:
    """Estimated core-seconds of a job: ``(P&L matrix, per-position PV/Greeks)``.

    P&L: ``per_element × positions × scenarios``; positions: ``per_position × positions``,
    a fifth of that without Greeks (PV alone is one revaluation of the ~five a Greek needs).
    The planner sizes tasks from it and the burst planner sizes capacity from it.
    """
    pnl_seconds = cost.per_element * n_positions * n_scenarios
    pos_seconds = cost.per_position * n_positions * (1.0 if greeks else 0.2)
    return pnl_seconds, pos_seconds


@dataclass(frozen=True)
class Plan:
    """Tasks and the block sizes that produced them."""

    n_positions: int
    n_scenarios: int
    block_rows: int
    block_cols: int
    pos_block_rows: int
    greeks: bool
    tasks: tuple[Task, ...] = field(repr=False)
    estimated_seconds: float = 0.0
    #: cost-weighted plans (:func:`plan_weighted`): P&L row bands ``(row_start, row_stop,
    #: column parts)`` and position-task row cuts; empty for uniform block plans
    bands: tuple[tuple[int, int, int], ...] = ()
    pos_cuts: tuple[int, ...] = ()
    #: estimated seconds and peak bytes of each task (by key), for weighted plans
    task_seconds: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    task_bytes: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    #: per-row (P&L seconds per scenario, position-task seconds, bytes per column) behind it
    row_costs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )
    #: the per-worker memory bound the weighted plan was cut for
    memory_bytes: int = 1 << 30

    @property
    def pnl_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.kind == "pnl")

    @property
    def pos_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.kind == "pos")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tasks": len(self.tasks),
            "blockRows": self.block_rows,
            "blockCols": self.block_cols,
            "posBlockRows": self.pos_block_rows,
            "estimatedSeconds": round(self.estimated_seconds, 4),
        }
        if self.bands:  # enough to rebuild the same tasks on resume (plan_from_bands)
            out["bands"] = [list(b) for b in self.bands]
            out["posCuts"] = list(self.pos_cuts)
        return out

    @property
    def max_task_bytes(self) -> int:
        return max(self.task_bytes.values(), default=0)


def _split(n: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _n_tasks(total_seconds: float, target: float, workers: int) -> int:
    by_target = math.ceil(total_seconds / target)
    by_balance = min(TASKS_PER_WORKER * workers, math.floor(total_seconds / MIN_TASK_SECONDS))
    return max(1, by_target, by_balance)


def task_estimate_seconds(task: Task, cost: CostModel, *, greeks: bool = True) -> float:
    """The cost model's estimate for one task (the per-task timeout scales it): the job
    formula of :func:`estimate_seconds` applied to the task's block."""
    rows = task.row_stop - task.row_start
    if task.kind == "pnl":
        return estimate_seconds(rows, task.col_stop - task.col_start, cost, greeks=greeks)[0]
    return estimate_seconds(rows, 1, cost, greeks=greeks)[1]


def plan_blocks(
    n_positions: int,
    n_scenarios: int,
    *,
    block_rows: int,
    block_cols: int,
    pos_block_rows: int,
    greeks: bool = True,
    estimated_seconds: float = 0.0,
) -> Plan:
    """A plan with explicit block sizes (tests, checkpoints and resumed runs use this)."""
    if n_positions < 1 or n_scenarios < 1:
        raise ValueError("a plan needs at least one position and one scenario")
    if min(block_rows, block_cols, pos_block_rows) < 1:
        raise ValueError("block sizes must be ≥ 1")
    block_rows = min(block_rows, n_positions)
    block_cols = min(block_cols, n_scenarios)
    pos_block_rows = min(pos_block_rows, n_positions)
    tasks: list[Task] = [Task("pos", r0, r1) for r0, r1 in _split(n_positions, pos_block_rows)]
    tasks += [
        Task("pnl", r0, r1, c0, c1)
        for r0, r1 in _split(n_positions, block_rows)
        for c0, c1 in _split(n_scenarios, block_cols)
    ]
    return Plan(
        n_positions=n_positions,
        n_scenarios=n_scenarios,
        block_rows=block_rows,
        block_cols=block_cols,
        pos_block_rows=pos_block_rows,
        greeks=greeks,
        tasks=tuple(tasks),
        estimated_seconds=estimated_seconds,
    )


def plan(
    n_positions: int,
    n_scenarios: int,
    *,
    cost: CostModel = DEFAULT_COST,
    workers: int = 1,
    target_task_seconds: float = DEFAULT_TARGET_TASK_SECONDS,
    greeks: bool = True,
    min_rows: int = 8,
) -> Plan:
    """Size blocks so that each task costs about ``target_task_seconds`` (see module doc)."""
    if not MIN_TASK_SECONDS <= target_task_seconds <= MAX_TASK_SECONDS:
        raise ValueError(
            f"target task seconds must be between {MIN_TASK_SECONDS} and {MAX_TASK_SECONDS}, "
            f"got {target_task_seconds}"
        )
    workers = max(1, workers)
    target = target_task_seconds

    pnl_seconds, pos_seconds = estimate_seconds(n_positions, n_scenarios, cost, greeks=greeks)
    n_pnl = _n_tasks(pnl_seconds, target, workers)
    elements_per_task = max(1, math.ceil(n_positions * n_scenarios / n_pnl))
    rows_full_width = elements_per_task // n_scenarios
    if rows_full_width >= min(min_rows, n_positions):
        block_rows, block_cols = max(1, rows_full_width), n_scenarios
    else:
        block_rows = min(min_rows, n_positions)
        block_cols = max(1, elements_per_task // block_rows)

    n_pos = _n_tasks(pos_seconds, target, workers)
    pos_block_rows = max(1, math.ceil(n_positions / n_pos))

    return plan_blocks(
        n_positions,
        n_scenarios,
        block_rows=block_rows,
        block_cols=block_cols,
        pos_block_rows=pos_block_rows,
        greeks=greeks,
        estimated_seconds=pnl_seconds + pos_seconds,
    )


# -- cost-weighted plans (Monte Carlo / PDE books) ----------------------------------------------
#: Float64 temporaries a closed-form pricer holds per P&L element (as grid.budget assumes).
ELEMENT_BYTES = 24 * 8
#: Bytes of the result block per element (float64).
OUT_BYTES = 8
#: Fewest scenario columns in a column part of a heavy row (unless memory needs narrower).
MIN_PART_COLS = 32


def _row_cuts(weights: np.ndarray, n_tasks: int) -> list[int]:
    """Cut points (0 … n) of contiguous row ranges of about equal total weight.

    Cut where the running total crosses each multiple of total/n_tasks: every range holds at
    most one target's worth plus one row (a heavier single row is split by columns later).
    """
    n = weights.size
    csum = np.cumsum(weights)
    total = float(csum[-1]) if n else 0.0
    if n == 0 or total <= 0.0 or n_tasks <= 1:
        return [0, n]
    marks = total * np.arange(1, n_tasks) / n_tasks
    cuts = np.searchsorted(csum, marks, side="right")  # first row whose running total exceeds
    return sorted({0, n, *(int(c) for c in cuts if 0 < c < n)})


def _bands_of(
    row_seconds: np.ndarray,
    n_scenarios: int,
    target: float,
    n_tasks: int,
    col_bytes: np.ndarray,
    memory_bytes: int,
) -> list[tuple[int, int, int]]:
    """Row bands and how many column parts each is cut into (see :func:`plan_weighted`)."""
    cuts = _row_cuts(row_seconds * n_scenarios, n_tasks)
    bands = []
    for r0, r1 in itertools.pairwise(cuts):
        secs = float(row_seconds[r0:r1].sum()) * n_scenarios
        parts_time = math.ceil(secs / target) if secs > target else 1
        # every part revalues the base column and redraws the position's normals: keep parts
        # wide enough that this overhead stays small (≤ 1/MIN_PART_COLS)
        parts_time = min(parts_time, max(1, n_scenarios // MIN_PART_COLS))
        # memory: the heaviest row's kernel state for the task's columns (+ the base column)
        # plus the block's closed-form temporaries must stay within the bound
        cb, rows = float(col_bytes[r0:r1].max()), r1 - r0
        # the largest column count c with cb·(c + 1) within the kernels' share and
        # max(cb·(c + 1), E·rows·c) + 8·rows·c within the bound
        cols_fit = min(
            int(kernel_bytes(memory_bytes) // cb) - 1 if cb > 0 else n_scenarios,
            int((memory_bytes - cb) // (cb + OUT_BYTES * rows)),
            int(memory_bytes // ((ELEMENT_BYTES + OUT_BYTES) * rows)),
        )
        # a row whose base + one column exceed the bound is valued one column per kernel call
        # by the kernels' chunking (≤ the bound: the loader refuses a single column over it);
        # narrower tasks would only repeat the base valuation
        parts_mem = math.ceil(n_scenarios / cols_fit) if cols_fit >= 1 else 1
        bands.append((r0, r1, min(n_scenarios, max(parts_time, parts_mem, 1))))
    return bands


def _band_tasks(bands: Sequence[tuple[int, int, int]], n_scenarios: int) -> list[Task]:
    tasks = []
    for r0, r1, parts in bands:
        width = math.ceil(n_scenarios / parts)
        tasks += [Task("pnl", r0, r1, c0, c1) for c0, c1 in _split(n_scenarios, width)]
    return tasks


def task_bytes(task: Task, col_bytes: np.ndarray, memory_bytes: int) -> int:
    """Estimated peak bytes of one task: the larger of the heaviest row's kernel state for
    the columns one kernel call holds (the task's columns + the base column, or 7 states for a
    ``pos`` task; at most the kernel's chunk of ``memory_bytes // column bytes``) and the
    closed-form pricers' temporaries (:data:`ELEMENT_BYTES` per element) — rows are priced
    one pricer at a time — plus the result block (8 B per element)."""
    per_col = float(col_bytes[task.rows].max())
    cols = 7 if task.kind == "pos" else task.col_stop - task.col_start + 1
    if per_col > 0:  # the kernels' own chunk: 15/16 of the bound
        cols = min(cols, max(1, int(kernel_bytes(memory_bytes) // per_col)))
    return int(max(per_col * cols, ELEMENT_BYTES * task.elements) + OUT_BYTES * task.elements)


def lpt_makespan(seconds: Sequence[float], workers: int) -> float:
    """Finish time of tasks handed out in the given order to the first free of ``workers``
    (the engines' dynamic scheduling; with costliest-first order this is LPT)."""
    import heapq

    free = [0.0] * max(1, workers)
    for s in seconds:
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def plan_from_bands(
    n_positions: int,
    n_scenarios: int,
    bands: Sequence[Sequence[int]],
    pos_cuts: Sequence[int],
    *,
    greeks: bool = True,
    estimated_seconds: float = 0.0,
    row_seconds: np.ndarray | None = None,
    pos_row_seconds: np.ndarray | None = None,
    col_bytes: np.ndarray | None = None,
    memory_bytes: int = 1 << 30,
) -> Plan:
    """The plan of explicit row bands and position cuts (a recorded weighted plan on resume).

    Tasks are listed costliest first (longest-processing-time order: the engines hand tasks
    out in plan order, so the long ones start early and the short ones fill the gaps);
    aggregation does not depend on the order.
    """
    bands_t = tuple((int(a), int(b), int(c)) for a, b, c in bands)
    cuts = tuple(int(c) for c in pos_cuts)
    if not bands_t or bands_t[0][0] != 0 or bands_t[-1][1] != n_positions:
        raise ValueError("row bands must tile the positions")
    if any(b[1] != a[0] for b, a in itertools.pairwise(bands_t)):
        raise ValueError("row bands must tile the positions")
    if not cuts or cuts[0] != 0 or cuts[-1] != n_positions or list(cuts) != sorted(set(cuts)):
        raise ValueError("position cuts must tile the positions")
    pnl = _band_tasks(bands_t, n_scenarios)
    pos = [Task("pos", r0, r1) for r0, r1 in itertools.pairwise(cuts)]
    secs: dict[str, float] = {}
    mem: dict[str, int] = {}
    if row_seconds is not None and pos_row_seconds is not None and col_bytes is not None:
        for t in pnl:
            secs[t.key] = float(row_seconds[t.rows].sum()) * (t.col_stop - t.col_start)
            mem[t.key] = task_bytes(t, col_bytes, memory_bytes)
        for t in pos:
            secs[t.key] = float(pos_row_seconds[t.rows].sum())
            mem[t.key] = task_bytes(t, col_bytes, memory_bytes)
    return Plan(
        n_positions=n_positions,
        n_scenarios=n_scenarios,
        block_rows=max(b[1] - b[0] for b in bands_t),
        block_cols=max(t.col_stop - t.col_start for t in pnl),
        pos_block_rows=max(b - a for a, b in itertools.pairwise(cuts)),
        greeks=greeks,
        # costliest first, P&L and position tasks alike (stable: ties keep plan order)
        tasks=tuple(sorted(pos + pnl, key=lambda t: -secs.get(t.key, 0.0))),
        estimated_seconds=estimated_seconds,
        bands=bands_t,
        pos_cuts=cuts,
        task_seconds=secs,
        task_bytes=mem,
        row_costs=None
        if row_seconds is None or pos_row_seconds is None or col_bytes is None
        else (row_seconds, pos_row_seconds, col_bytes),
        memory_bytes=memory_bytes,
    )


def plan_weighted(
    row_units: np.ndarray,
    n_scenarios: int,
    *,
    cost: CostModel = DEFAULT_COST,
    col_bytes: np.ndarray | None = None,
    memory_bytes: int = 1 << 30,
    workers: int = 1,
    target_task_seconds: float = DEFAULT_TARGET_TASK_SECONDS,
    greeks: bool = True,
) -> Plan:
    """Cost-balanced tasks for a book whose positions cost very different amounts.

    ``row_units`` is each position's relative cost per valuation (``Portfolio.cost_units``:
    a Monte Carlo position costs paths × steps units); ``cost.per_element`` is the seconds of
    an element of *mean* units, so row ``i`` costs ``per_element · units[i] / mean(units)``
    seconds per scenario. ``col_bytes`` is the kernel memory one scenario column of each row
    needs (MC: 64 B × paths × steps, twice for Heston).

    1. The job is cut into as many tasks as :func:`plan` would choose (the target task
       seconds, at least ``4 × workers`` when tasks stay ≥ 50 ms); contiguous row bands of
       about equal cost are cut where the running cost crosses each multiple of the mean
       task cost.
    2. A band costlier than the target — a single heavy Monte Carlo position — is split
       into column parts (its scenario range shared across tasks), and so is a band whose
       columns would need more than ``memory_bytes``: no task exceeds the memory bound, so
       the kernels' own column chunking is a safety net only.
    3. Tasks are listed costliest first (LPT).

    Results do not depend on the plan: each P&L element depends only on its position and
    scenario, and the aggregation folds rows in position order per column.
    """
    if not MIN_TASK_SECONDS <= target_task_seconds <= MAX_TASK_SECONDS:
        raise ValueError(
            f"target task seconds must be between {MIN_TASK_SECONDS} and {MAX_TASK_SECONDS}, "
            f"got {target_task_seconds}"
        )
    units = np.asarray(row_units, dtype=np.float64)
    n = units.size
    if n < 1 or n_scenarios < 1:
        raise ValueError("a plan needs at least one position and one scenario")
    workers = max(1, workers)
    mean = float(units.mean())
    row_seconds = cost.per_element * units / mean
    pos_row_seconds = cost.per_position * units / mean * (1.0 if greeks else 0.2)
    cb = np.zeros(n) if col_bytes is None else np.asarray(col_bytes, dtype=np.float64)
    pnl_seconds = float(row_seconds.sum()) * n_scenarios
    pos_seconds = float(pos_row_seconds.sum())
    n_pnl = _n_tasks(pnl_seconds, target_task_seconds, workers)
    target = max(pnl_seconds / n_pnl, MIN_TASK_SECONDS)
    bands = _bands_of(row_seconds, n_scenarios, target, n_pnl, cb, memory_bytes)
    n_pos = min(n, _n_tasks(pos_seconds, target_task_seconds, workers))
    pos_cuts = _row_cuts(pos_row_seconds, n_pos)
    return plan_from_bands(
        n,
        n_scenarios,
        bands,
        pos_cuts,
        greeks=greeks,
        estimated_seconds=pnl_seconds + pos_seconds,
        row_seconds=row_seconds,
        pos_row_seconds=pos_row_seconds,
        col_bytes=cb,
        memory_bytes=memory_bytes,
    )
