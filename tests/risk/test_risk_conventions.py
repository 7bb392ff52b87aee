"""Selectable VaR/ES conventions (quantile, lower-tail, linear) on hand-computable vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskgrid.risk import measures

# 500 scenarios whose P&L are the integers −250 … 249 in a scrambled order: the j-th smallest
# P&L is −251 + j, so every order statistic can be written down by hand.
PNL_500 = np.random.default_rng(11).permutation(np.arange(-250.0, 250.0))


def test_lower_tail_k_is_exact_where_floats_are_not() -> None:
    # the trap the exact arithmetic avoids: in doubles (1 − 0.99)·500 = 5.000000000000004
    assert math.ceil((1 - 0.99) * 500) == 6
    assert measures.lower_tail_k(500, 0.99) == 5
    assert measures.lower_tail_k(500, 0.975) == 13  # 12.5 → 13
    assert measures.lower_tail_k(250, 0.99) == 3  # 2.5 → 3
    assert measures.lower_tail_k(100, 0.99) == 1  # exactly 1
    assert measures.lower_tail_k(1000, 0.999) == 1
    assert measures.lower_tail_k(10, 0.9999) == 1  # 0.001 → 1 (never 0)
    assert measures.lower_tail_k(500, 0.95) == 25


def test_lower_tail_at_99_of_500_uses_the_5th_smallest() -> None:
    # 5 smallest P&L: −250 … −246
    assert measures.var(PNL_500, 0.99, "lower-tail") == 246.0
    assert measures.es(PNL_500, 0.99, "lower-tail") == 248.0  # −mean(−250 … −246)
    # the quantile convention at the same level: ⌈500·0.99⌉ = 495th smallest loss = 6th worst
    assert measures.var(PNL_500, 0.99, "quantile") == 245.0


def test_lower_tail_at_97_5_of_500_uses_the_13th_smallest() -> None:
    assert measures.var(PNL_500, 0.975, "lower-tail") == 238.0  # 13th smallest = −238
    assert measures.es(PNL_500, 0.975, "lower-tail") == 244.0  # −mean(−250 … −238)
    w = measures.tail_weights(PNL_500, 0.975, "lower-tail")
    assert np.count_nonzero(w) == 13 and w.sum() == pytest.approx(1.0, abs=1e-15)
    assert set(PNL_500[w > 0]) == set(np.arange(-250.0, -237.0))


# ten scenarios; sorted P&L: −10 −4 −2 0 1 2 3 5 7 9
PNL_10 = np.array([3.0, -4.0, 9.0, 0.0, -10.0, 2.0, 7.0, -2.0, 5.0, 1.0])


def test_linear_interpolates_between_order_statistics() -> None:
    # c = 85%: h = 9·0.15 = 1.35 → between −4 and −2 with g = 0.35: Q = −4 + 0.35·2 = −3.3
    assert measures.var(PNL_10, 0.85, "linear") == pytest.approx(3.3, abs=1e-14)
    assert measures.es(PNL_10, 0.85, "linear") == 7.0  # mean(−10, −4) ≤ −3.3
    # c = 90%: h = 0.9 → Q = −10 + 0.9·6 = −4.6; only −10 lies at or below it
    assert measures.var(PNL_10, 0.90, "linear") == pytest.approx(4.6, abs=1e-14)
    assert measures.es(PNL_10, 0.90, "linear") == 10.0
    for c in (0.5, 0.8, 0.85, 0.9, 0.95, 0.99):
        assert -measures.var(PNL_10, c, "linear") == pytest.approx(
            np.quantile(PNL_10, 1 - c), abs=1e-13
        )


def test_linear_exact_position_lands_on_an_order_statistic() -> None:
    # 11 scenarios at 90%: h = 10·0.1 = 1 exactly (in doubles 0.9999999999999998), so the
    # quantile is the 2nd smallest P&L itself and the VaR weight is one scenario, not two.
    pnl = np.array([4.0, -6.0, 1.0, -1.0, 2.0, 0.0, -3.0, 5.0, 3.0, -2.0, 6.0])
    assert measures.linear_position(11, 0.90) == (1, 0.0)
    assert measures.var(pnl, 0.90, "linear") == 3.0
    w = measures.var_weights(pnl, 0.90, "linear")
    assert np.count_nonzero(w) == 1 and w[6] == 1.0
    assert measures.es(pnl, 0.90, "linear") == 4.5  # mean(−6, −3)


def test_quantile_is_the_default_and_keeps_its_definition() -> None:
    for c in (0.8, 0.85, 0.9, 0.95):
        assert measures.var(PNL_10, c, "quantile") == measures.var(PNL_10, c)
        assert measures.es(PNL_10, c, "quantile") == measures.es(PNL_10, c)
    assert measures.var(PNL_10, 0.85, "quantile") == 4.0  # n·c = 8.5 → 9th smallest loss
    assert measures.es(PNL_10, 0.85, "quantile") == pytest.approx(8.0, abs=1e-12)


@pytest.mark.parametrize("convention", measures.CONVENTIONS)
def test_components_sum_to_totals_under_each_convention(convention: str) -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(size=(30, 500)) * rng.uniform(1, 50, (30, 1))
    total = m.sum(axis=0)
    for c in (0.95, 0.975, 0.99):
        cv = measures.component_var(m, c, convention)
        ce = measures.component_es(m, c, convention)
        assert cv.sum() == pytest.approx(measures.var(total, c, convention), rel=1e-12)
        assert ce.sum() == pytest.approx(measures.es(total, c, convention), rel=1e-12)
        assert -(measures.var_weights(total, c, convention) @ total) == pytest.approx(
            measures.var(total, c, convention), rel=1e-12
        )
        assert measures.es(total, c, convention) >= measures.var(total, c, convention) - 1e-9


def test_conventions_differ_where_they_should() -> None:
    # at 99% of 500 the three conventions pick three different points of the same vector
    v = {c: measures.var(PNL_500, 0.99, c) for c in measures.CONVENTIONS}
    assert v == {"quantile": 245.0, "lower-tail": 246.0, "linear": pytest.approx(245.01)}


def test_unknown_convention_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown VaR/ES convention 'historical'"):
        measures.var(PNL_10, 0.99, "historical")
    with pytest.raises(ValueError, match="choose one of quantile, lower-tail, linear"):
        measures.component_es(PNL_10[None, :], 0.99, "Linear")
