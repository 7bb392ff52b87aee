"""Property-based checks of the VaR/ES estimators (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskgrid.risk import measures

pnls = arrays(
    np.float64,
    st.integers(1, 300),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
levels = st.sampled_from([0.5, 0.9, 0.95, 0.975, 0.99, 0.999])


@settings(max_examples=200, deadline=None)
@given(pnls, levels)
def test_var_is_one_of_the_losses_and_es_is_at_least_var(pnl: np.ndarray, c: float) -> None:
    v, e = measures.var(pnl, c), measures.es(pnl, c)
    assert v in set((-pnl).tolist())
    assert e >= v - 1e-9 * max(1.0, abs(v))
    assert e <= float(np.max(-pnl)) + 1e-9 * max(1.0, abs(e))


@settings(max_examples=200, deadline=None)
@given(pnls, levels, st.floats(0.01, 100.0))
def test_positive_homogeneity(pnl: np.ndarray, c: float, a: float) -> None:
    assert np.isclose(measures.var(a * pnl, c), a * measures.var(pnl, c), rtol=1e-12, atol=1e-6)
    assert np.isclose(measures.es(a * pnl, c), a * measures.es(pnl, c), rtol=1e-9, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(pnls, levels)
def test_permutation_invariance(pnl: np.ndarray, c: float) -> None:
    perm = np.random.default_rng(0).permutation(pnl.size)
    assert measures.var(pnl[perm], c) == measures.var(pnl, c)
    assert np.isclose(measures.es(pnl[perm], c), measures.es(pnl, c), rtol=1e-12, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 30), st.integers(20, 120), levels)
def test_components_sum_to_totals(n_rows: int, n_scen: int, c: float) -> None:
    m = np.random.default_rng(n_rows * 1000 + n_scen).normal(size=(n_rows, n_scen))
    total = m.sum(axis=0)
    assert np.isclose(measures.component_var(m, c).sum(), measures.var(total, c), atol=1e-9)
    assert np.isclose(measures.component_es(m, c).sum(), measures.es(total, c), atol=1e-9)


conventions = st.sampled_from(measures.CONVENTIONS)


@settings(max_examples=300, deadline=None)
@given(pnls, levels, conventions)
def test_every_convention_brackets_and_orders(pnl: np.ndarray, c: float, conv: str) -> None:
    """VaR lies within the P&L range (an order statistic, or between two under `linear`), ES is
    at least VaR and at most the worst loss, and both are permutation invariant."""
    v, e = measures.var(pnl, c, conv), measures.es(pnl, c, conv)
    tol = 1e-9 * max(1.0, abs(v), abs(e))
    assert float(np.min(-pnl)) - tol <= v <= float(np.max(-pnl)) + tol
    if conv != "linear":
        assert v in set((-pnl).tolist())
    assert v - tol <= e <= float(np.max(-pnl)) + tol
    perm = np.random.default_rng(1).permutation(pnl.size)
    assert measures.var(pnl[perm], c, conv) == v
    assert np.isclose(measures.es(pnl[perm], c, conv), e, rtol=1e-12, atol=1e-9)
    if conv == "lower-tail":  # exactly the k-th smallest P&L, negated, k = ⌈(1−c)·n⌉ ≥ 1
        k = measures.lower_tail_k(pnl.size, c)
        assert 1 <= k <= pnl.size and v == -float(np.sort(pnl)[k - 1])
