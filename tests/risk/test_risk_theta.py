"""Theta by rolling the valuation date: BSM analytic agreement, sign and size, expiries."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from riskgrid.risk import black_scholes, market, theta
from riskgrid.risk import portfolio as pf

TODAY = dt.date(2026, 11, 20)
R, Q, SIGMA = 0.04, 0.015, 0.25


def _flat_market(r: float = R) -> market.MarketData:
    # flat curves and a flat vol: rolling changes nothing but time to expiry
    return market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={"USD": [("1Y", r)], "EUR": [("1Y", 0.02)]},
        fx={"EURUSD": 1.10},
        equities={"ACME": (100.0, "USD", Q)},
        vols={"ACME": [("1Y", SIGMA)], "EURUSD": [("1Y", 0.08)]},
    )


def _opt(i: int, k: float, days: int, kind: str, qty: float = 1.0) -> pf.PositionRecord:
    return pf.PositionRecord(
        id=f"o{i}",
        type="equity_option",
        quantity=qty,
        underlying="ACME",
        strike=k,
        expiry=TODAY + dt.timedelta(days=days),
        option_type=kind,
    )


def test_matches_bsm_analytic_theta_by_finite_difference() -> None:
    m = _flat_market()
    recs = [
        _opt(i, k, d, kind)
        for i, (k, d, kind) in enumerate(
            (k, d, kind)
            for k in (80.0, 100.0, 120.0)
            for d in (91, 365, 730)
            for kind in ("call", "put")
        )
    ]
    p = pf.build(recs, m)
    g = black_scholes.analytic_greeks(p.is_call, 100.0, p.strike, p.t, R, Q, SIGMA)
    analytic = g["theta"]  # per year, Haug/QuantLib convention: dV/dt with T shrinking
    errors = []
    for days in (1.0, 0.1, 0.01):
        fd = theta.theta_block(p, m, days) / (days / 365.0)
        err = np.max(np.abs(fd - analytic) / np.maximum(np.abs(analytic), 1e-3))
        errors.append(err)
    # one day agrees within 1.5% (worst: a 3M OTM put, whose theta is small); the error is
    # the one-sided difference's O(h) term: it shrinks 10× per 10× smaller step
    assert errors[0] < 2e-2
    assert errors[2] < 2e-4
    assert errors[1] < errors[0] / 8 and errors[2] < errors[1] / 8


def test_sign_and_size_sanity() -> None:
    m = _flat_market()
    recs = [
        _opt(0, 100.0, 365, "call"),
        _opt(1, 100.0, 365, "call", qty=-10.0),
        pf.PositionRecord(
            id="z", type="zcb", quantity=1e6, currency="USD", expiry=TODAY + dt.timedelta(730)
        ),
        pf.PositionRecord(id="s", type="spot", quantity=7.0, underlying="ACME"),
        _opt(2, 100.0, 365, "put"),
    ]
    p = pf.build(recs, m)
    th = theta.theta_block(p, m, 1)
    # a long ATM call decays; a short one earns ten times as much
    assert th[0] < 0.0 and th[1] == pytest.approx(-10.0 * th[0], rel=1e-12)
    # ATM 1Y call, σ 25%, r 4%, q 1.5%: d1 = 0.225, d2 = −0.025, by hand
    # Θ = −S e^{−qT} φ(d1) σ/(2√T) + q S e^{−qT} N(d1) − r K e^{−rT} N(d2)
    #   = −4.789 + 0.870 − 1.883 = −5.80 per year → −0.0159 per day
    assert th[0] * 365 == pytest.approx(-5.80, rel=5e-3)
    # a zero-coupon bond accretes at its yield: exactly e^{−r(T−τ)} − e^{−rT}
    t = 730 / 365
    assert th[2] == pytest.approx(1e6 * (math.exp(-R * (t - 1 / 365)) - math.exp(-R * t)), 1e-12)
    assert th[3] == 0.0  # a share does not age
    assert th[4] < 0.0


def test_positions_expiring_inside_the_horizon_are_worth_their_payoff() -> None:
    m = _flat_market()
    recs = [
        _opt(0, 90.0, 5, "call"),  # in the money, expires in 5 days
        _opt(1, 110.0, 5, "call"),  # out of the money
        pf.PositionRecord(
            id="f",
            type="fx_forward",
            quantity=1e6,
            underlying="EURUSD",
            strike=1.05,
            expiry=TODAY + dt.timedelta(10),
        ),
        pf.PositionRecord(
            id="z", type="zcb", quantity=100.0, currency="EUR", expiry=TODAY + dt.timedelta(10)
        ),
    ]
    p = pf.build(recs, m)
    from riskgrid.risk.revaluation import base_pv

    today = base_pv(p, m)
    th = theta.theta_block(p, m, 10)
    assert np.all(np.isfinite(th))
    assert today[0] + th[0] == pytest.approx(10.0, abs=1e-12)  # intrinsic 100 − 90
    assert today[1] + th[1] == 0.0
    assert today[2] + th[2] == pytest.approx(1e6 * (1.10 - 1.05), rel=1e-12)  # USD
    assert today[3] + th[3] == pytest.approx(100.0 * 1.10, rel=1e-12)  # 100 EUR in USD


def test_curves_roll_down_at_constant_time_to_maturity() -> None:
    # an upward-sloping curve: a 2Y bond rolled one year is discounted at the 1Y rate
    m = market.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={"USD": [("1Y", 0.03), ("2Y", 0.05)]},
        fx={},
        equities={"ACME": (100.0, "USD", 0.0)},
        vols={},
    )
    rec = pf.PositionRecord(
        id="z", type="zcb", quantity=1.0, currency="USD", expiry=TODAY + dt.timedelta(730)
    )
    p = pf.build([rec], m)
    th = theta.theta_block(p, m, 365)
    assert th[0] == pytest.approx(math.exp(-0.03) - math.exp(-0.05 * 2), rel=1e-13)


def test_blocks_equal_slices_and_bad_horizon() -> None:
    m = _flat_market()
    p = pf.build([_opt(i, 80.0 + i, 30 + 20 * i, "call") for i in range(12)], m)
    full = theta.theta_block(p, m, 3)
    parts = np.concatenate([theta.theta_block(p, m, 3, slice(a, a + 5)) for a in (0, 5, 10)])
    assert np.array_equal(full, parts)
    for bad in (0, -1, 366):
        with pytest.raises(ValueError, match=r"theta horizon must be in \(0, 365\] days"):
            theta.theta_block(p, m, bad)
