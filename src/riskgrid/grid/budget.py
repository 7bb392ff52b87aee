"""Job limits checked before a run starts: tasks, driver memory, worker memory.

A job whose plan exceeds the configured :class:`Budget` is refused before any worker runs or
any file is written, with the estimate in the message (``riskgrid run`` exits 2).

The memory estimates follow the streaming design (``docs/grid.md``, "Memory model"):

- driver: the group and portfolio scenario vectors (8 B × S × (1 + groups)), per-position PV,
  Greeks and component VaR/ES (8 B × P × (3 + Greeks)), the reorder buffer's limit, two
  result blocks in flight, and the positions × scenarios matrix only when the small-book
  ``pnl_positions.parquet`` is written;
- worker: the shared context (the arrays of portfolio, market data and scenarios) plus the
  largest block times :data:`WORKER_BLOCK_FACTOR` (the pricers' temporaries per element).

They are estimates of what the *run* adds, not of the interpreter or the loaded book.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskgrid.grid.planner import Plan
from riskgrid.spec.errors import RiskgridError

#: Float64 temporaries a pricer holds per P&L element of its block (states, d1/d2, payoffs).
WORKER_BLOCK_FACTOR = 24
GREEK_ARRAYS = 6
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class BudgetExceeded(RiskgridError):
    """The job needs more tasks or memory than the configured budget allows."""


@dataclass(frozen=True)
class Budget:
    """Limits for one job; ``None`` means unlimited."""

    max_tasks: int | None = 1_000_000
    max_driver_bytes: int | None = 8 * 2**30
    max_worker_bytes: int | None = 4 * 2**30


@dataclass(frozen=True)
class Estimate:
    tasks: int
    driver_bytes: int
    worker_bytes: int
    shard_bytes: int


def parse_bytes(text: str) -> int:
    """``"512MiB"``, ``"8G"``, ``"1.5GiB"``, ``"1000000"`` → bytes (binary units)."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*", text)
    if not m:
        raise RiskgridError(f"not a size: {text!r} (e.g. 512MiB, 8GiB, 1000000)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def nbytes(obj: Any, _depth: int = 0) -> int:
    """Bytes of the NumPy arrays inside a (nested) dataclass / mapping / sequence."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "OU":
            return obj.size * 64  # Python strings: a rough per-item size
        return int(obj.nbytes)
    if _depth > 4:
        return 0
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), _depth + 1) for f in dataclasses.fields(obj))
    if isinstance(obj, dict):
        return sum(nbytes(v, _depth + 1) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(nbytes(v, _depth + 1) for v in obj)
    return 0


def estimate(
    the_plan: Plan,
    *,
    n_groups: int,
    context_bytes: int,
    reorder_bytes: int,
    positions_file: bool,
) -> Estimate:
    p, s = the_plan.n_positions, the_plan.n_scenarios
    block = max((t.elements for t in the_plan.tasks if t.kind == "pnl"), default=0)
    driver = 8 * s * (1 + n_groups) + 8 * p * (3 + (GREEK_ARRAYS if the_plan.greeks else 0))
    driver += reorder_bytes + 2 * 8 * block
    if positions_file:
        driver += 8 * p * s
    # weighted (Monte Carlo) plans know each task's kernel memory; uniform plans use the
    # closed-form pricers' temporaries per element
    worker = context_bytes + max(WORKER_BLOCK_FACTOR * 8 * block, the_plan.max_task_bytes)
    return Estimate(len(the_plan.tasks), driver, worker, 8 * p * s)


def check(est: Estimate, budget: Budget) -> None:
    """Raise :class:`BudgetExceeded` naming every limit the estimate breaks."""
    over = []
    if budget.max_tasks is not None and est.tasks > budget.max_tasks:
        over.append(f"{est.tasks:,} tasks planned, budget {budget.max_tasks:,} (--max-tasks)")
    if budget.max_driver_bytes is not None and est.driver_bytes > budget.max_driver_bytes:
        over.append(
            f"driver memory estimated {human(est.driver_bytes)}, budget "
            f"{human(budget.max_driver_bytes)} (--max-driver-memory)"
        )
    if budget.max_worker_bytes is not None and est.worker_bytes > budget.max_worker_bytes:
        over.append(
            f"worker memory estimated {human(est.worker_bytes)} per worker, budget "
            f"{human(budget.max_worker_bytes)} (--max-worker-memory)"
        )
    if over:
        raise BudgetExceeded(
            "job refused before it started, over budget: "
            + "; ".join(over)
            + "; nothing was run or written"
        )
