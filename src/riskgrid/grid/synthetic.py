"""Synthetic task functions for engine self-tests and the orchestration benchmark.

They live in the package (not in tests/) because worker processes and Ray workers import task
functions by module path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskgrid.grid.rng import stream
from riskgrid.grid.tasks import Task


@dataclass(frozen=True)
class SyntheticContext:
    """Shared inputs of synthetic tasks: a seed, a matrix to read, and a per-task spin time."""

    seed: int
    weights: np.ndarray  # (n_rows,) read by every task, like market data
    spin_seconds: float = 0.0
    burn_iterations: int = 0


def noop(context: Any, task: Task) -> int:
    """Does nothing: measures pure orchestration overhead."""
    return task.row_start


def spin(context: SyntheticContext, task: Task) -> float:
    """Busy-waits ``context.spin_seconds`` (CPU-bound, like pricing), returns a checksum."""
    deadline = time.perf_counter() + context.spin_seconds
    acc = 0.0
    while time.perf_counter() < deadline:
        acc += 1.0
    return float(context.weights[task.row_start]) + (acc * 0.0)


def burn(context: SyntheticContext, task: Task) -> float:
    """A fixed amount of CPU work (``burn_iterations`` loop steps): slows down when cores are
    shared, unlike :func:`spin`, which measures orchestration alone."""
    acc = 0.0
    for i in range(context.burn_iterations):
        acc += i * 0.5
    return acc


def sleep(context: SyntheticContext, task: Task) -> int:
    """Sleeps ``context.spin_seconds`` (used by cancellation tests: keeps the run going)."""
    time.sleep(context.spin_seconds)
    return os.getpid()


def keyed_block(context: SyntheticContext, task: Task) -> np.ndarray:
    """A block whose element (i, j) is a keyed random draw × weight of row i.

    Each row's stream is keyed by (seed, row), so the assembled matrix is the same whatever
    the blocking; columns are taken from the row's stream at offsets ``col_start:col_stop``.
    """
    out = np.empty((task.row_stop - task.row_start, task.col_stop - task.col_start))
    for k, row in enumerate(range(task.row_start, task.row_stop)):
        draws = stream(context.seed, "row", row).standard_normal(task.col_stop)
        out[k] = draws[task.col_start : task.col_stop] * context.weights[row]
    return out


def worker_pid(context: Any, task: Task) -> int:
    return os.getpid()


def context_identity(context: Any, task: Task) -> tuple[int, int]:
    """(worker pid, id of the context object): one id per pid ⇔ the context came once."""
    return os.getpid(), id(context)


def scaled_inputs(inputs: Any, n_positions: int, n_scenarios: int) -> Any:
    """A job of ``n_positions`` × ``n_scenarios`` built from a loaded one (benchmarks).

    Positions are the job's book repeated (ids suffixed ``~k`` on the k-th copy, so they stay
    unique; groups stay the job's, so that a benchmark sees the growth with positions alone);
    scenarios are the first ``n_scenarios`` of the job's set.
    """
    import dataclasses

    p = inputs.portfolio
    if not 1 <= n_scenarios <= inputs.scenarios.n:
        raise ValueError(f"the job has {inputs.scenarios.n} scenarios, asked for {n_scenarios}")
    idx = np.arange(n_positions) % p.n
    copy = (np.arange(n_positions) // p.n).astype(str)
    fields = {
        f.name: getattr(p, f.name)[idx]
        for f in dataclasses.fields(p)
        if f.name not in ("ids", "groups")
    }
    ids = np.char.add(np.char.add(p.ids[idx].astype(str), "~"), copy)
    groups = {k: v[idx] for k, v in p.groups.items()}
    portfolio = dataclasses.replace(p, ids=ids, groups=groups, **fields)
    s = inputs.scenarios
    scenarios = dataclasses.replace(
        s,
        labels=s.labels[:n_scenarios],
        spot_mult=np.ascontiguousarray(s.spot_mult[:, :n_scenarios]),
        vol_mult=np.ascontiguousarray(s.vol_mult[:, :n_scenarios]),
        rate_shift=np.ascontiguousarray(s.rate_shift[..., :n_scenarios]),
    )
    return dataclasses.replace(inputs, portfolio=portfolio, scenarios=scenarios)
