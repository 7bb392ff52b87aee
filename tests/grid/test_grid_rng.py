"""Keyed random streams: same key → same numbers; results independent of blocking."""

from __future__ import annotations

import numpy as np

from riskgrid.grid.rng import spawn_key, stream
from riskgrid.grid.synthetic import SyntheticContext, keyed_block
from riskgrid.grid.tasks import Task


def test_same_key_same_numbers_other_key_other_numbers():
    a = stream(7, "scenario", 3).standard_normal(5)
    b = stream(7, "scenario", 3).standard_normal(5)
    c = stream(7, "scenario", 4).standard_normal(5)
    d = stream(8, "scenario", 3).standard_normal(5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)
    # Types are part of the key: the string "3" is not the integer 3.
    assert spawn_key("scenario", 3) != spawn_key("scenario", "3")


def test_keyed_blocks_assemble_to_the_same_matrix_whatever_the_blocking():
    ctx = SyntheticContext(seed=11, weights=np.linspace(0.5, 2.0, 23))
    whole = keyed_block(ctx, Task("pnl", 0, 23, 0, 17))
    pieces = np.full_like(whole, np.nan)
    for r0 in range(0, 23, 5):
        for c0 in range(0, 17, 4):
            t = Task("pnl", r0, min(r0 + 5, 23), c0, min(c0 + 4, 17))
            pieces[t.rows, t.cols] = keyed_block(ctx, t)
    assert np.array_equal(whole, pieces)
