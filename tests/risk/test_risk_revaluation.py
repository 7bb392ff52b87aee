"""Instrument values, currency conversion and scenario application, checked by hand formulas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from riskgrid.risk import black_scholes, greeks, revaluation, scenarios
from riskgrid.risk import market as mk
from riskgrid.risk import portfolio as pf

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def market() -> mk.MarketData:
    return mk.build(
        as_of=AS_OF,
        base_currency="USD",
        curve_pillars={
            "USD": [("1Y", 0.04), ("5Y", 0.045)],
            "EUR": [("1Y", 0.02), ("5Y", 0.025)],
            "JPY": [("1Y", 0.001)],
        },
        fx={"EURUSD": 1.10, "USDJPY": 150.0},
        equities={"ACME": (100.0, "USD", 0.01), "KORA": (50.0, "EUR", 0.02)},
        vols={"ACME": [("1Y", 0.25)], "KORA": [("1Y", 0.30)], "EURUSD": [("1Y", 0.08)]},
    )


def _pf(market: mk.MarketData, *recs: pf.PositionRecord) -> pf.Portfolio:
    return pf.build(list(recs), market)


EXP = AS_OF + dt.timedelta(days=365)  # exactly 1.0 year ACT/365F


def test_equity_option_in_foreign_currency_converts_at_spot(market: mk.MarketData) -> None:
    p = _pf(market, pf.PositionRecord("o", "equity_option", -3.0, "KORA", None, 55.0, EXP, "put"))
    pv = revaluation.base_pv(p, market)[0]
    local = float(black_scholes.price(False, 50.0, 55.0, 1.0, 0.02, 0.02, 0.30))
    assert pv == pytest.approx(-3.0 * local * 1.10, rel=1e-14)


def test_fx_option_is_garman_kohlhagen_in_quote_currency(market: mk.MarketData) -> None:
    p = _pf(market, pf.PositionRecord("f", "fx_option", 1e6, "EURUSD", None, 1.12, EXP, "call"))
    expected = 1e6 * float(black_scholes.price(True, 1.10, 1.12, 1.0, 0.04, 0.02, 0.08))
    assert revaluation.base_pv(p, market)[0] == pytest.approx(expected, rel=1e-14)


def test_fx_forward_spot_and_zcb_values(market: mk.MarketData) -> None:
    p = _pf(
        market,
        pf.PositionRecord("fw", "fx_forward", 2e6, "USDJPY", None, 148.0, EXP),
        pf.PositionRecord("sp", "spot", 1e6, "USDJPY"),
        pf.PositionRecord("eq", "spot", 10.0, "ACME"),
        pf.PositionRecord("z", "zcb", 1e6, None, "EUR", None, EXP),
    )
    pv = revaluation.base_pv(p, market)
    # USDJPY forward pays JPY: 2e6·(150·e^{-0.04} − 148·e^{-0.001}) JPY, / 150 to USD
    assert pv[0] == pytest.approx(2e6 * (150 * np.exp(-0.04) - 148 * np.exp(-0.001)) / 150)
    assert pv[1] == pytest.approx(1e6)  # 1e6 USD held, valued in JPY, converted back
    assert pv[2] == pytest.approx(1000.0)
    assert pv[3] == pytest.approx(1e6 * np.exp(-0.02) * 1.10)


def test_curve_interpolation_between_pillars(market: mk.MarketData) -> None:
    t = np.array([0.5, 1.0, 3.0, 5.0, 7.0])
    z = market.zero_rate(np.zeros(5, dtype=np.int64), t)
    np.testing.assert_allclose(z, [0.04, 0.04, 0.0425, 0.045, 0.045], rtol=1e-15)


def test_stress_scenario_moves_spot_rate_and_fx(market: mk.MarketData) -> None:
    p = _pf(
        market,
        pf.PositionRecord("eq", "spot", 10.0, "KORA"),
        pf.PositionRecord("z", "zcb", 1e6, None, "USD", None, EXP),
    )
    s = scenarios.stress(
        market,
        [("a", {"spot:KORA": -0.2, "spot:EURUSD": 0.1}), ("b", {"rate:USD:1Y": 0.01})],
    )
    pnl = revaluation.pnl_block(p, market, s)
    assert pnl[0, 0] == pytest.approx(10 * 50 * 0.8 * 1.21 - 10 * 50 * 1.1)
    assert pnl[1, 0] == 0.0 and pnl[0, 1] == 0.0
    assert pnl[1, 1] == pytest.approx(1e6 * (np.exp(-0.05) - np.exp(-0.04)))
    assert s.labels == ("stress:a", "stress:b")


def test_historical_scenarios_overlapping_and_not(market: mk.MarketData) -> None:
    names = tuple(market.factor_names())
    days = tuple(AS_OF - dt.timedelta(days=30 - i) for i in range(31))
    values = np.ones((31, len(names)))
    j = names.index("spot:ACME")
    values[:, j] = 100.0 * 1.01 ** np.arange(31)  # +1% a day
    r = names.index("rate:USD:5Y")
    values[:, r] = 0.045 + 0.0001 * np.arange(31)  # +1bp a day
    h = scenarios.FactorHistory(days, names, values)
    s1 = scenarios.historical(market, h, window=10, horizon=5, overlapping=True)
    assert s1.n == 10 and s1.labels[0] == f"hs:{AS_OF.isoformat()}"
    assert s1.labels[1] == f"hs:{(AS_OF - dt.timedelta(days=1)).isoformat()}"
    np.testing.assert_allclose(s1.spot_mult[market.spot_index("ACME")], 1.01**5, rtol=1e-13)
    np.testing.assert_allclose(s1.rate_shift[market.curve_index("USD"), 1], 0.0005, rtol=1e-9)
    s2 = scenarios.historical(market, h, window=6, horizon=5, overlapping=False)
    assert s2.labels[1] == f"hs:{(AS_OF - dt.timedelta(days=5)).isoformat()}"
    with pytest.raises(ValueError, match="needs at least 36 rows"):
        scenarios.historical(market, h, window=7, horizon=5, overlapping=False)
    with pytest.raises(ValueError, match="no column for spot:ACME"):
        scenarios.historical(
            market,
            scenarios.FactorHistory(days, names[1:], values[:, 1:]),
            window=5,
        )


def test_bump_greeks_match_analytic(market: mk.MarketData) -> None:
    p = _pf(
        market,
        pf.PositionRecord("c", "equity_option", 100.0, "ACME", None, 105.0, EXP, "call"),
        pf.PositionRecord("z", "zcb", 1e6, None, "USD", None, EXP),
        pf.PositionRecord("s", "spot", 7.0, "ACME"),
    )
    g = greeks.greeks_block(p, market)
    a = black_scholes.analytic_greeks(True, 100.0, 105.0, 1.0, 0.04, 0.01, 0.25)
    assert g["delta"][0] == pytest.approx(100 * float(a["delta"]), rel=1e-6)
    assert g["gamma"][0] == pytest.approx(100 * float(a["gamma"]), rel=1e-4)
    assert g["vega"][0] == pytest.approx(100 * float(a["vega"]) / 100, rel=1e-3)
    assert g["rho"][0] == pytest.approx(100 * float(a["rho"]) / 1e4, rel=1e-4)
    assert g["delta"][1] == 0.0 and g["vega"][1] == 0.0
    assert g["rho"][1] == pytest.approx(-1e6 * 1.0 * np.exp(-0.04) * 1e-4, rel=1e-6)
    assert g["delta"][2] == pytest.approx(7.0, rel=1e-12)
    assert g["delta_cash"][2] == pytest.approx(700.0, rel=1e-12)
    assert g["gamma"][2] == pytest.approx(0.0, abs=1e-6)


def test_pnl_is_zero_under_identity_scenarios(market: mk.MarketData) -> None:
    p = _pf(
        market,
        pf.PositionRecord("c", "equity_option", 100.0, "KORA", None, 45.0, EXP, "call"),
        pf.PositionRecord("f", "fx_forward", 1e6, "EURUSD", None, 1.09, EXP),
    )
    pnl = revaluation.pnl_block(p, market, scenarios.identity(market, ("x", "y")))
    assert np.array_equal(pnl, np.zeros((2, 2)))


def test_vega_finite_for_tiny_vol() -> None:
    m = mk.build(
        as_of=AS_OF,
        base_currency="USD",
        curve_pillars={"USD": [("1Y", 0.04)]},
        fx={},
        equities={"ACME": (100.0, "USD", 0.0)},
        vols={"ACME": [("1Y", 0.004)]},
    )
    k = 100.0 * float(np.exp(0.04))  # at the money forward, where vega is largest
    p = pf.build([pf.PositionRecord("c", "equity_option", 1.0, "ACME", None, k, EXP, "call")], m)
    g = greeks.greeks_block(p, m)
    a = black_scholes.analytic_greeks(True, 100.0, k, 1.0, 0.04, 0.0, 0.004)
    assert np.isfinite(g["vega"]).all()
    assert g["vega"][0] == pytest.approx(float(a["vega"]) / 100, rel=1e-2)
