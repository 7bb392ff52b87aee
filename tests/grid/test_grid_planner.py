"""Planner: tasks tile the positions × scenarios matrix exactly once, sized by cost."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskgrid.grid.planner import MIN_TASK_SECONDS, CostModel, plan, plan_blocks


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
