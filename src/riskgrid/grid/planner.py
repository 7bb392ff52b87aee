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

import math
from dataclasses import dataclass, field

from riskgrid.grid.tasks import Task

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

    @property
    def pnl_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.kind == "pnl")

    @property
    def pos_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.kind == "pos")

    def describe(self) -> dict[str, int | float | bool]:
        return {
            "tasks": len(self.tasks),
            "blockRows": self.block_rows,
            "blockCols": self.block_cols,
            "posBlockRows": self.pos_block_rows,
            "estimatedSeconds": round(self.estimated_seconds, 4),
        }


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
