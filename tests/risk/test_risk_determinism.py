"""Any block decomposition of the P&L matrix is bit-identical to the full matrix (==)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from riskgrid.risk import greeks, revaluation
from riskgrid.risk.inputs import JobInputs


def _blocks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


@pytest.mark.parametrize(("row_size", "col_size"), [(1, 504), (7, 13), (333, 100), (3200, 1)])
def test_blocks_equal_slices_of_full_matrix(
    multi_desk: JobInputs, row_size: int, col_size: int
) -> None:
    p, m, s = multi_desk.portfolio, multi_desk.market, multi_desk.scenarios
    full = revaluation.pnl_block(p, m, s, slice(0, p.n), slice(0, s.n))
    assert full.shape == (p.n, s.n) and np.isfinite(full).all()
    rows = _blocks(p.n, row_size)
    cols = _blocks(s.n, col_size)
    # keep the test quick: a spread of the small blocks, not all of them
    rows = rows[:: max(1, len(rows) // 25)]
    cols = cols[:: max(1, len(cols) // 20)]
    for r in rows:
        for c in cols:
            block = revaluation.pnl_block(p, m, s, r, c)
            assert block.dtype == np.float64
            assert np.array_equal(block, full[r, c]), (r, c)


def test_base_pv_and_greeks_blocks_equal_full(multi_desk: JobInputs) -> None:
    p, m = multi_desk.portfolio, multi_desk.market
    pv = revaluation.base_pv(p, m, slice(0, p.n))
    g = greeks.greeks_block(p, m, slice(0, p.n))
    for r in _blocks(p.n, 451):
        assert np.array_equal(revaluation.base_pv(p, m, r), pv[r])
        gb = greeks.greeks_block(p, m, r)
        for k in greeks.NAMES:
            assert np.array_equal(gb[k], g[k][r]), k


def test_job_inputs_pickle_round_trip_gives_same_pnl(small: JobInputs) -> None:
    back = pickle.loads(pickle.dumps(small))
    a = revaluation.pnl_block(small.portfolio, small.market, small.scenarios)
    b = revaluation.pnl_block(back.portfolio, back.market, back.scenarios)
    assert np.array_equal(a, b)
    assert back.job == small.job
