"""Implied vol surfaces: interpolation by hand, no calendar arbitrage, scenario vol rules."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskgrid.risk import black_scholes, market, revaluation
from riskgrid.risk import portfolio as pf
from riskgrid.risk import scenarios as sc

TODAY = dt.date(2026, 11, 20)
S0 = 100.0
LN = math.log


def _market(surface: tuple[list[str], list[float], list[list[float]]] | None = None):
    # ACME: a surface (strikes 80/100/125 as log-moneyness), KORA: a term structure
    surf = surface or (
        ["6M", "1Y", "2Y"],
        [LN(0.8), 0.0, LN(1.25)],
        [[0.30, 0.24, 0.20], [0.28, 0.23, 0.21], [0.27, 0.23, 0.215]],
    )
    return market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={"USD": [("1Y", 0.03)]},
        fx={},
        equities={"ACME": (S0, "USD", 0.0), "KORA": (50.0, "USD", 0.0)},
        vols={"KORA": [("3M", 0.30), ("1Y", 0.26), ("2Y", 0.25)]},
        surfaces={"ACME": surf},
    )


def _ix(m: market.MarketData, name: str, n: int) -> np.ndarray:
    return np.full(n, m.vol_index(name))


def test_term_structure_is_bit_identical_with_and_without_strike() -> None:
    m = _market()
    rng = np.random.default_rng(1)
    t = rng.uniform(0.01, 5.0, 2000)
    k = rng.uniform(1.0, 500.0, 2000)
    i = _ix(m, "KORA", t.size)
    assert np.array_equal(m.vol(i, t, k), m.vol(i, t))
    assert not m.has_smile(i) and m.has_smile(_ix(m, "ACME", 1))


def test_surface_pillars_strike_and_time_interpolation_by_hand() -> None:
    m = _market()
    i = _ix(m, "ACME", 1)
    # on the pillars, exactly the quoted vols
    for ti, tenor in enumerate((0.5, 1.0, 2.0)):
        for kj, k in enumerate((80.0, 100.0, 125.0)):
            want = [[0.30, 0.24, 0.20], [0.28, 0.23, 0.21], [0.27, 0.23, 0.215]][ti][kj]
            assert m.vol(i, np.array([tenor]), np.array([k]))[0] == pytest.approx(want, abs=1e-15)
    # strike 90 at 6M: linear in vol over ln(K/S0) between ln 0.8 and 0
    a = (LN(0.9) - LN(0.8)) / (0.0 - LN(0.8))
    got = m.vol(i, np.array([0.5]), np.array([90.0]))[0]
    assert got == pytest.approx((1 - a) * 0.30 + a * 0.24, abs=1e-15)
    # strike 100 at 1.5Y: linear in total variance between 1Y (0.23²·1) and 2Y (0.23²·2)
    assert m.vol(i, np.array([1.5]), np.array([100.0]))[0] == pytest.approx(0.23, abs=1e-15)
    # strike 125 at 1.5Y: w = ½·0.21²·1 + ½·0.215²·2
    w = 0.5 * 0.21**2 + 0.5 * 0.215**2 * 2.0
    got = m.vol(i, np.array([1.5]), np.array([125.0]))[0]
    assert got == pytest.approx(math.sqrt(w / 1.5), abs=1e-15)
    # flat extrapolation: beyond the strikes the edge vol, before/after the expiries flat vol
    assert m.vol(i, np.array([0.5]), np.array([10.0]))[0] == 0.30
    assert m.vol(i, np.array([0.5]), np.array([1e4]))[0] == 0.20
    assert m.vol(i, np.array([0.1]), np.array([100.0]))[0] == 0.24
    assert m.vol(i, np.array([7.0]), np.array([125.0]))[0] == 0.215
    # strike None = the at-the-money column (K = S0)
    t = np.linspace(0.05, 4.0, 50)
    ii = _ix(m, "ACME", t.size)
    assert np.array_equal(m.vol(ii, t), m.vol(ii, t, np.full(t.size, S0)))


@st.composite
def _surfaces(draw):
    n_t = draw(st.integers(1, 5))
    n_k = draw(st.integers(1, 6))
    days = sorted(draw(st.lists(st.integers(1, 3650), min_size=n_t, max_size=n_t, unique=True)))
    x = sorted(draw(st.lists(st.integers(-60, 60), min_size=n_k, max_size=n_k, unique=True)))
    # total variance per strike column: positive, non-decreasing in expiry
    first = draw(st.lists(st.floats(1e-4, 0.5), min_size=n_k, max_size=n_k))
    steps = draw(st.lists(st.floats(0.0, 0.5), min_size=n_k * n_t, max_size=n_k * n_t))
    w = np.array(first) + np.cumsum(np.array(steps).reshape(n_t, n_k), axis=0)
    t = np.array(days) / 365.0
    vols = np.sqrt(w / t[:, None])
    return [f"{d}D" for d in days], [v / 100.0 for v in x], vols.tolist()


@settings(max_examples=150, deadline=None)
@given(_surfaces(), st.floats(-1.0, 1.0), st.lists(st.floats(1e-3, 12.0), min_size=2, max_size=40))
def test_no_calendar_arbitrage_along_any_moneyness_line(surface, x, times) -> None:
    """If every strike column's total variance is non-decreasing in expiry, so is σ²(t, x)·t
    on every line of fixed moneyness x, between, before and after the pillars."""
    tenors, xs, vols = surface
    m = _market((tenors, xs, vols))
    t = np.sort(np.array(times))
    i = _ix(m, "ACME", t.size)
    sigma = m.vol(i, t, np.full(t.size, S0 * math.exp(x)))
    w = sigma**2 * t
    assert np.all(np.diff(w) >= -1e-12 * w[1:])


def _book(m: market.MarketData, strike: float, expiry: dt.date) -> pf.Portfolio:
    rec = pf.PositionRecord(
        id="c",
        type="equity_option",
        quantity=1.0,
        underlying="ACME",
        strike=strike,
        expiry=expiry,
        option_type="call",
    )
    return pf.build([rec], m)


def test_european_option_uses_its_strike() -> None:
    m = _market()
    expiry = dt.date(2027, 11, 20)  # 1Y (365 days)
    for k in (80.0, 90.0, 100.0, 125.0):
        p = _book(m, k, expiry)
        sigma = m.vol(_ix(m, "ACME", 1), p.t, np.array([k]))[0]
        ref = black_scholes.price(True, S0, k, p.t[0], 0.03, 0.0, sigma)
        assert revaluation.base_pv(p, m)[0] == pytest.approx(float(ref), rel=1e-14)
    assert m.vol(_ix(m, "ACME", 1), p.t, np.array([80.0]))[0] == pytest.approx(0.28)


def _skew_market():
    # one expiry, two strikes: K/S0 = 1/1.1 at 25% vol, K/S0 = 1 at 20% vol
    return _market((["1Y"], [LN(1 / 1.1), 0.0], [[0.25, 0.20]]))


@pytest.mark.parametrize(
    ("rule", "vol_seen"), [("sticky-strike", 0.20), ("sticky-moneyness", 0.25)]
)
def test_spot_move_under_each_vol_rule(rule: str, vol_seen: float) -> None:
    """An at-the-money option; spot up 10%, vols unchanged. Sticky strike: it keeps the vol of
    its strike (20%). Sticky moneyness: its moneyness is now K/S = 1/1.1, where the smile
    quotes 25% — the spot move changed its vol by the skew."""
    m = _skew_market()
    p = _book(m, S0, dt.date(2027, 11, 20))
    s = sc.with_vol_rule(sc.stress(m, [("up", {"spot:ACME": 0.10}), ("flat", {})]), rule)
    states = revaluation.scenario_states(p, m, s, slice(None), slice(None))
    assert states.vol[0, 0] == pytest.approx(vol_seen, abs=1e-15)
    assert states.vol[0, 1] == pytest.approx(0.20, abs=1e-15)  # no spot move: no change
    pnl = revaluation.pnl_block(p, m, s)
    t = p.t[0]
    want = black_scholes.price(True, 110.0, S0, t, 0.03, 0.0, vol_seen) - black_scholes.price(
        True, S0, S0, t, 0.03, 0.0, 0.20
    )
    assert pnl[0, 0] == pytest.approx(float(want), rel=1e-12)
    assert pnl[0, 1] == 0.0


def test_vol_factor_shifts_the_whole_surface_under_either_rule() -> None:
    m = _market()
    p = pf.build(
        [
            pf.PositionRecord(
                id=f"o{k}",
                type="equity_option",
                quantity=1.0,
                underlying="ACME",
                strike=k,
                expiry=dt.date(2028, 5, 20),
                option_type="put",
            )
            for k in (70.0, 90.0, 100.0, 130.0)
        ],
        m,
    )
    base = revaluation.base_states(p, m, slice(None)).vol[:, 0]
    for rule in sc.VOL_RULES:
        s = sc.with_vol_rule(sc.stress(m, [("vol-up", {"vol:ACME": 0.5})]), rule)
        got = revaluation.scenario_states(p, m, s, slice(None), slice(None)).vol[:, 0]
        np.testing.assert_allclose(got, 1.5 * base, rtol=1e-15)


def test_sticky_moneyness_on_a_term_structure_equals_sticky_strike() -> None:
    m = _market()
    rec = pf.PositionRecord(
        id="k",
        type="equity_option",
        quantity=-3.0,
        underlying="KORA",
        strike=55.0,
        expiry=dt.date(2027, 8, 20),
        option_type="put",
    )
    p = pf.build([rec], m)
    s = sc.stress(m, [("dn", {"spot:KORA": -0.2, "vol:KORA": 0.3})])
    a = revaluation.pnl_block(p, m, sc.with_vol_rule(s, "sticky-strike"))
    b = revaluation.pnl_block(p, m, sc.with_vol_rule(s, "sticky-moneyness"))
    assert np.array_equal(a, b)


def test_unknown_vol_rule_rejected() -> None:
    m = _market()
    with pytest.raises(ValueError, match="unknown vol rule 'sticky-delta'"):
        sc.with_vol_rule(sc.identity(m, ("a",)), "sticky-delta")


def test_example_book_vols_unchanged_by_strike_aware_lookup(multi_desk) -> None:
    """Every option of the 3,200-position example book (term structures only) sees exactly
    the vol the strike-less lookup gave before surfaces existed."""
    p, m = multi_desk.portfolio, multi_desk.market
    opt = p.vol_idx >= 0
    assert opt.sum() > 1000
    got = revaluation.base_states(p, m, slice(None)).vol[:, 0]
    assert np.array_equal(got[opt], m.vol(p.vol_idx[opt], p.t[opt]))
