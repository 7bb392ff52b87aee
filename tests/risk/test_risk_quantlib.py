"""Cross-checks against QuantLib (test-only dependency) on randomised inputs.

Both sides use ACT/365F and continuously compounded rates, so the analytic prices must agree to
1e-10 relative wherever the option is worth at least a millionth of the spot (moneyness 0.6–1.6,
vol 5–80%, 1 week–5 years). Below that, QuantLib's forms ``F·N(d1) − K·N(d2)`` and
``N(d) − 1`` cancel, so those few are compared in absolute terms.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import QuantLib as ql

from riskgrid.risk import black_scholes, curves, market

TODAY = dt.date(2026, 11, 20)
DC = ql.Actual365Fixed()


def _qdate(d: dt.date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def _ql_price(call: bool, s: float, k: float, days: int, r: float, q: float, vol: float) -> float:
    today = _qdate(TODAY)
    ql.Settings.instance().evaluationDate = today
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, q, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, DC, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, DC)),
    )
    option = ql.EuropeanOption(
        ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k),
        ql.EuropeanExercise(today + days),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option.NPV()


def test_random_european_options_match_quantlib_1e10() -> None:
    rng = np.random.default_rng(20261126)
    n = 400
    call = rng.random(n) < 0.5
    s = rng.uniform(1.0, 500.0, n)
    k = s * rng.uniform(0.6, 1.6, n)
    days = rng.integers(7, 5 * 365, n)
    r = rng.uniform(-0.01, 0.08, n)
    q = rng.uniform(-0.01, 0.06, n)
    vol = rng.uniform(0.05, 0.8, n)
    ours = black_scholes.price(call, s, k, days / 365.0, r, q, vol)
    ref = np.array(
        [_ql_price(*args) for args in zip(call, s, k, days.tolist(), r, q, vol, strict=True)]
    )
    # Below a millionth of spot both QuantLib's call (F·N(d1) − K·N(d2)) and put (N(d) − 1)
    # forms cancel catastrophically; those prices are checked in absolute terms instead.
    priced = ref > 1e-6 * s
    assert priced.sum() > 340
    np.testing.assert_allclose(ours[~priced], ref[~priced], rtol=0, atol=1e-12 * s.max())
    rel = np.abs(ours[priced] - ref[priced]) / ref[priced]
    assert rel.max() < 1e-10, rel.max()


def test_garman_kohlhagen_matches_quantlib() -> None:
    today = _qdate(TODAY)
    ql.Settings.instance().evaluationDate = today
    s, k, rd, rf, vol, days = 1.0812, 1.10, 0.0445, 0.0175, 0.075, 181
    process = ql.GarmanKohlagenProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rf, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rd, DC, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, DC)),
    )
    for call in (True, False):
        option = ql.EuropeanOption(
            ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k),
            ql.EuropeanExercise(today + days),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        ours = float(black_scholes.price(call, s, k, days / 365, rd, rf, vol))
        assert abs(ours / option.NPV() - 1.0) < 1e-10


def _market() -> market.MarketData:
    return market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={
            "USD": [("3M", 0.043), ("1Y", 0.041), ("2Y", 0.0395), ("5Y", 0.038), ("10Y", 0.04)]
        },
        fx={},
        equities={"ACME": (100.0, "USD", 0.01)},
        vols={"ACME": [("1M", 0.30), ("6M", 0.26), ("1Y", 0.24), ("2Y", 0.25)]},
    )


def test_zero_curve_matches_quantlib_linear_zero_curve() -> None:
    m = _market()
    today = _qdate(TODAY)
    ql.Settings.instance().evaluationDate = today
    years = [curves.tenor_years(t) for t in m.curve_tenors[0]]
    dates = [today] + [today + round(y * 365) for y in years]
    # QuantLib's ZeroCurve needs a rate at t=0; flat extrapolation backwards = the first rate
    rates = [m.curve_rates[0, 0], *m.curve_rates[0, : len(years)]]
    # use day-exact pillar times on our side too
    m2 = market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={
            "USD": [(f"{round(y * 365)}D", r) for y, r in zip(years, rates[1:], strict=True)]
        },
        fx={},
        equities={},
        vols={},
    )
    qc = ql.ZeroCurve(
        dates, [float(r) for r in rates], DC, ql.NullCalendar(), ql.Linear(), ql.Continuous
    )
    t = np.linspace(0.01, 9.9, 500)
    ours = m2.discount(np.zeros(t.size, dtype=np.int64), t)
    ref = np.array([qc.discount(float(x)) for x in t])
    np.testing.assert_allclose(ours, ref, rtol=1e-13)


def test_vol_term_structure_matches_quantlib_black_variance_curve() -> None:
    today = _qdate(TODAY)
    ql.Settings.instance().evaluationDate = today
    days = [30, 182, 365, 730]
    m = market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={"USD": [("1Y", 0.04)]},
        fx={},
        equities={"ACME": (100.0, "USD", 0.0)},
        vols={"ACME": [(f"{d}D", v) for d, v in zip(days, [0.30, 0.26, 0.24, 0.25], strict=True)]},
    )
    qv = ql.BlackVarianceCurve(
        today, [today + d for d in days], [0.30, 0.26, 0.24, 0.25], DC, False
    )
    qv.enableExtrapolation()
    t = np.linspace(0.02, 3.0, 300)
    ours = m.vol(np.zeros(t.size, dtype=np.int64), t)
    ref = np.array([qv.blackVol(float(x), 100.0) for x in t])
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_full_revaluation_pnl_matches_quantlib_with_term_structures() -> None:
    """pnl_block on an option under a spot/vol/curve scenario == QuantLib NPV difference."""
    from riskgrid.risk import portfolio as pf
    from riskgrid.risk import revaluation, scenarios

    today = _qdate(TODAY)
    ql.Settings.instance().evaluationDate = today
    r_days, rates = [91, 365, 730, 1825], [0.043, 0.041, 0.0395, 0.038]
    v_days, vols = [30, 182, 365, 730], [0.30, 0.26, 0.24, 0.25]
    spot, q, strike, expiry_days = 100.0, 0.012, 97.0, 400
    m = market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={"USD": [(f"{d}D", r) for d, r in zip(r_days, rates, strict=True)]},
        fx={},
        equities={"ACME": (spot, "USD", q)},
        vols={"ACME": [(f"{d}D", v) for d, v in zip(v_days, vols, strict=True)]},
    )
    expiry = TODAY + dt.timedelta(days=expiry_days)
    book = pf.build(
        [
            pf.PositionRecord("c", "equity_option", 10.0, "ACME", None, strike, expiry, "call"),
            pf.PositionRecord("p", "equity_option", -7.0, "ACME", None, strike, expiry, "put"),
        ],
        m,
    )
    shifts = [0.0010, 0.0020, 0.0015, -0.0005]
    sc = scenarios.stress(
        m,
        [
            (
                "x",
                {
                    "spot:ACME": -0.05,
                    "vol:ACME": 0.2,
                    **{f"rate:USD:{d}D": s for d, s in zip(r_days, shifts, strict=True)},
                },
            )
        ],
    )
    pnl = revaluation.pnl_block(book, m, sc)[:, 0]

    def ql_npv(s: float, rs: list[float], vs: list[float], call: bool) -> float:
        curve = ql.ZeroCurve(
            [today] + [today + d for d in r_days],
            [rs[0], *rs],
            DC,
            ql.NullCalendar(),
            ql.Linear(),
            ql.Continuous,
        )
        curve.enableExtrapolation()
        vts = ql.BlackVarianceCurve(today, [today + d for d in v_days], vs, DC, False)
        vts.enableExtrapolation()
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(s)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, q, DC, ql.Continuous)),
            ql.YieldTermStructureHandle(curve),
            ql.BlackVolTermStructureHandle(vts),
        )
        opt = ql.EuropeanOption(
            ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, strike),
            ql.EuropeanExercise(today + expiry_days),
        )
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        return opt.NPV()

    shocked_r = [r + s for r, s in zip(rates, shifts, strict=True)]
    shocked_v = [v * 1.2 for v in vols]
    for i, (qty, call) in enumerate([(10.0, True), (-7.0, False)]):
        base = ql_npv(spot, rates, vols, call)
        new = ql_npv(spot * 0.95, shocked_r, shocked_v, call)
        assert abs(pnl[i] - qty * (new - base)) <= 1e-10 * abs(qty) * base
