"""VaR/ES conventions on hand-computable P&L vectors, and their allocation to positions."""

from __future__ import annotations

import numpy as np
import pytest

from riskgrid.risk import measures


def test_var_es_on_ten_scenarios_by_hand() -> None:
    pnl = np.array([5.0, -1.0, 3.0, -10.0, 2.0, -4.0, 0.0, 7.0, -2.0, 1.0])
    # losses sorted: -7 -5 -3 -2 -1 0 1 2 4 10 ; n·c = 9 at 90% → 9th smallest loss = 4
    assert measures.var(pnl, 0.90) == 4.0
    # 80%: n·c = 8 → 8th smallest loss = 2 ; ES = mean of worst 2 = (4 + 10)/2
    assert measures.var(pnl, 0.80) == 2.0
    assert measures.es(pnl, 0.80) == 7.0
    # 85%: n·c = 8.5 → VaR = 9th = 4 ; ES = (10 + 0.5·4) / 1.5 = 8
    assert measures.var(pnl, 0.85) == 4.0
    assert measures.es(pnl, 0.85) == pytest.approx(8.0, abs=1e-12)
    # 95%: n·c = 9.5 → VaR = worst = 10 ; ES = 0.5·10 / 0.5 = 10
    assert measures.var(pnl, 0.95) == 10.0
    assert measures.es(pnl, 0.95) == 10.0


def test_losses_are_positive_and_gains_give_negative_var() -> None:
    assert measures.var(np.array([1.0, 2.0, 3.0, 4.0]), 0.75) == -2.0
    assert measures.var(np.array([-1.0, -2.0, -3.0, -4.0]), 0.75) == 3.0


def test_es_at_least_var_at_same_confidence() -> None:
    pnl = np.random.default_rng(0).standard_t(3, 1000)
    for c in (0.9, 0.95, 0.975, 0.99):
        assert measures.es(pnl, c) >= measures.var(pnl, c)


def test_integer_n_times_c_is_not_rounded_up() -> None:
    pnl = -np.arange(1.0, 101.0)  # losses 1..100
    assert measures.var(pnl, 0.99) == 99.0  # 100·0.99 = 99 (even if it rounds to 99.000…01)
    assert measures.es(pnl, 0.99) == 100.0
    assert measures.var(-np.arange(1.0, 1001.0), 0.999) == 999.0


def test_tail_weights_sum_to_one_and_ties_are_deterministic() -> None:
    pnl = np.array([-5.0, -5.0, 1.0, -5.0, 2.0])
    w = measures.tail_weights(pnl, 0.5)
    assert w.sum() == pytest.approx(1.0)
    assert measures.var_scenario(pnl, 0.5) == measures.var_scenario(pnl.copy(), 0.5)
    # losses 5, 5, 5 at scenarios 0, 1, 3: a stable sort orders them by index, so the worst
    # (n·c = 4.5 → 5th smallest) is the last of them
    assert measures.var_scenario(pnl, 0.9) == 3


def test_component_var_and_es_sum_to_portfolio() -> None:
    rng = np.random.default_rng(5)
    m = rng.normal(size=(40, 250)) * rng.uniform(1, 100, (40, 1))
    total = m.sum(axis=0)
    cv = measures.component_var(m, 0.99)
    ce = measures.component_es(m, 0.975)
    assert cv.sum() == pytest.approx(measures.var(total, 0.99), rel=1e-12)
    assert ce.sum() == pytest.approx(measures.es(total, 0.975), rel=1e-12)
    k = measures.var_scenario(total, 0.99)
    np.testing.assert_array_equal(cv, -m[:, k])


def test_top_contributors_orders_by_contribution() -> None:
    ids = np.array(["a", "b", "c", "d"])
    top = measures.top_contributors(np.array([1.0, 5.0, -2.0, 5.0]), ids, 3)
    assert top == [("b", 5.0), ("d", 5.0), ("a", 1.0)]


def test_group_sum() -> None:
    out = measures.group_sum(
        np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array(["x", "y", "x"])
    )
    assert list(out) == ["x", "y"]
    np.testing.assert_array_equal(out["x"], [6.0, 8.0])


def test_hs_var_of_large_normal_sample_near_parametric() -> None:
    pnl = np.random.default_rng(11).normal(0, 1000.0, 200_000)
    assert measures.var(pnl, 0.99) == pytest.approx(measures.normal_var(1000.0, 0.99), rel=0.02)
    assert measures.es(pnl, 0.975) == pytest.approx(measures.normal_es(1000.0, 0.975), rel=0.02)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_confidence_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        measures.var(np.array([1.0, 2.0]), bad)


def test_empty_pnl_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        measures.es(np.array([]), 0.975)
