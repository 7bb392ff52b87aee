"""Planner: tasks tile the positions × scenarios matrix exactly once, sized by cost."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskgrid.grid.planner import (
    MIN_TASK_SECONDS,
    CostModel,
    lpt_makespan,
    plan,
    plan_blocks,
    plan_from_bands,
    plan_weighted,
    task_bytes,
)


def _coverage(p) -> tuple[np.ndarray, np.ndarray]:
    cells = np.zeros((p.n_positions, p.n_scenarios), dtype=int)
    rows = np.zeros(p.n_positions, dtype=int)
    for t in p.tasks:
        if t.kind == "pnl":
            cells[t.rows, t.cols] += 1
        else:
            rows[t.rows] += 1
    return cells, rows


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    s=st.integers(1, 120),
    br=st.integers(1, 400),
    bc=st.integers(1, 200),
    pr=st.integers(1, 400),
)
def test_explicit_blocks_tile_every_element_once(n: int, s: int, br: int, bc: int, pr: int):
    p = plan_blocks(n, s, block_rows=br, block_cols=bc, pos_block_rows=pr)
    cells, rows = _coverage(p)
    assert (cells == 1).all()
    assert (rows == 1).all()
    keys = [t.key for t in p.tasks]
    assert len(set(keys)) == len(keys)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 20_000),
    s=st.integers(1, 2_000),
    per_element=st.floats(1e-9, 1e-5),
    workers=st.integers(1, 64),
    target=st.floats(0.05, 5.0),
)
def test_sized_plans_tile_and_respect_the_target(n, s, per_element, workers, target):
    cost = CostModel(per_element=per_element, per_position=1e-5)
    p = plan(n, s, cost=cost, workers=workers, target_task_seconds=target)
    cells, rows = _coverage(p)
    assert (cells == 1).all() and (rows == 1).all()
    # No P&L task is estimated above the target by more than one row's worth of rounding.
    biggest = max(t.elements for t in p.pnl_tasks) * per_element
    one_row = min(s, p.block_cols) * per_element
    assert biggest <= target + one_row + 1e-12
    # Splitting for balance never goes below the 50 ms floor unless the job itself is smaller.
    total = n * s * per_element
    if total >= MIN_TASK_SECONDS * len(p.pnl_tasks) * 2:
        smallest_full = min(
            t.elements for t in p.pnl_tasks if t.row_stop - t.row_start == p.block_rows
        )
        assert smallest_full * per_element >= MIN_TASK_SECONDS * 0.5


def test_keys_are_stable_and_describe_the_block():
    a = plan_blocks(10, 7, block_rows=4, block_cols=3, pos_block_rows=5)
    b = plan_blocks(10, 7, block_rows=4, block_cols=3, pos_block_rows=5)
    assert [t.key for t in a.tasks] == [t.key for t in b.tasks]
    assert "pnl-r8-10-c6-7" in {t.key for t in a.tasks}
    assert "pos-r5-10" in {t.key for t in a.tasks}


def test_whole_rows_preferred_and_columns_split_only_when_a_row_block_is_too_big():
    cheap = plan(3200, 504, cost=CostModel(2.5e-7, 5e-6), workers=2, target_task_seconds=0.5)
    assert cheap.block_cols == 504
    assert len(cheap.pnl_tasks) >= 8  # 4 per worker, each still ≥ 50 ms
    costly = plan(100, 100_000, cost=CostModel(1e-5, 5e-6), workers=2, target_task_seconds=0.5)
    assert costly.block_cols < 100_000
    assert max(t.elements for t in costly.pnl_tasks) * 1e-5 <= 0.5 + 1e-9


@pytest.mark.parametrize("bad", [0.0, 0.01, 6.0])
def test_target_outside_the_documented_range_is_refused(bad: float):
    with pytest.raises(ValueError, match="target task seconds"):
        plan(10, 10, target_task_seconds=bad)


# -- cost-weighted plans (Monte Carlo books) ---------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.sampled_from([1.0, 20.0, 1e3, 5e4, 3e5]), min_size=1, max_size=120),
    s=st.integers(1, 260),
    workers=st.integers(1, 8),
    mem_mib=st.sampled_from([64, 256, 1024]),
)
def test_weighted_plan_tiles_once_and_keeps_every_task_under_the_memory_bound(
    units: list[float], s: int, workers: int, mem_mib: int
):
    u = np.array(units)
    col_bytes = np.where(u > 100, u * 64.0, 0.0)  # MC rows: 64 B × paths × steps per column
    mem = mem_mib * 2**20
    cost = CostModel(per_element=1e-5, per_position=7e-5, measured=True)
    p = plan_weighted(u, s, cost=cost, col_bytes=col_bytes, memory_bytes=mem, workers=workers)
    cells, rows = _coverage(p)
    assert (cells == 1).all() and (rows == 1).all()
    assert set(p.task_bytes) == {t.key for t in p.tasks}
    for t in p.tasks:
        assert p.task_bytes[t.key] == task_bytes(t, col_bytes, mem)
        assert p.task_bytes[t.key] <= mem, t.key
    # costliest first
    secs = [p.task_seconds[t.key] for t in p.tasks]
    assert secs == sorted(secs, reverse=True)
    # the recorded bands rebuild the same tasks (checkpoint resume)
    d = p.describe()
    again = plan_from_bands(p.n_positions, p.n_scenarios, d["bands"], d["posCuts"])
    assert sorted(t.key for t in again.tasks) == sorted(t.key for t in p.tasks)


def _book() -> tuple[np.ndarray, np.ndarray]:
    """A Monte Carlo desk's cost profile: many closed forms, a few very heavy MC rows."""
    rng = np.random.default_rng(3)
    steps = np.where(rng.random(320) < 0.6, 0, rng.integers(12, 260, 320))
    units = np.where(steps > 0, 0.15 * 4096 * steps, 20.0)  # GBM MC rows, 4,096 paths
    col_bytes = 64.0 * 4096 * steps
    heavy = [3, 100, 101, 250]  # Heston-sized rows: 100 steps, 1 unit and 2 × 64 B per path-step
    units[heavy] = 4096 * 100.0
    col_bytes[heavy] = 2 * 64.0 * 4096 * 100
    return units, col_bytes


@pytest.mark.parametrize("workers", [1, 2, 4, 8])
@pytest.mark.parametrize("mem_mib", [1024, 128])
def test_weighted_plan_is_balanced(workers: int, mem_mib: int) -> None:
    """Costs balanced: handed out costliest first, the estimated finish on ``workers`` is within
    2% of the ideal (total / workers); heavy rows are shared by scenario range; every task's
    estimated peak memory is within the bound. A uniform row-block plan of the same book is far
    from balanced by the same measure (its blocks' costs differ by orders of magnitude)."""
    units, col_bytes = _book()
    cost = CostModel(per_element=716 / (320 * 250), per_position=716 / (320 * 250) * 7)
    mem = mem_mib * 2**20
    p = plan_weighted(units, 250, cost=cost, col_bytes=col_bytes, memory_bytes=mem, workers=workers)
    secs = [p.task_seconds[t.key] for t in p.tasks]
    ideal = sum(secs) / workers
    assert lpt_makespan(secs, workers) <= 1.02 * ideal
    assert max(p.task_bytes.values()) <= mem
    assert any(parts > 1 for _, _, parts in p.bands)  # a heavy row split by scenarios
    band = next(b for b in p.bands if b[0] <= 3 < b[1])
    assert band[2] > 1
    # uniform blocks of the same size, in row order: the heavy rows land in a few blocks
    u = plan_blocks(320, 250, block_rows=p.block_rows, block_cols=250, pos_block_rows=320)
    per_row = cost.per_element * units / units.mean()
    useconds = [float(per_row[t.rows].sum()) * (t.col_stop - t.col_start) for t in u.pnl_tasks]
    assert max(useconds) > 5 * max(p.task_seconds[t.key] for t in p.pnl_tasks)
