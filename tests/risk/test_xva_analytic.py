"""Exposure engine against closed forms: swaption = swap EE, FX forward EE, CVA integral."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from scipy.integrate import quad

from riskgrid.risk.xva import analytic, dates, measures
from riskgrid.risk.xva.curves import ZeroCurve
from riskgrid.risk.xva.model import HullWhite
from riskgrid.risk.xva.paths import evaluate_block
from riskgrid.risk.xva.setup import (
    CurrencySetup,
    ExposureSetup,
    NettingSetSetup,
    compile_run,
)
from riskgrid.risk.xva.trades import FxForward, Swap

AS_OF = dt.date(2016, 2, 5)


def flat(rate: float) -> ZeroCurve:
    return ZeroCurve.from_quotes(AS_OF, [dt.date(2017, 2, 5)], [rate], "ACT/365F", "continuous")


def setup_for(trades, currencies, report, *, factors=None, corr=None, paths=4000):
    names = factors or tuple(f"IR:{c}" for c in currencies)
    return ExposureSetup(
        as_of=AS_OF,
        base="EUR",
        currencies=currencies,
        factor_names=names,
        correlation=corr if corr is not None else np.eye(len(names)),
        netting_sets=(NettingSetSetup("ns", "C", None, tuple(trades)),),
        report_dates=tuple(report),
        paths=paths,
        seed=7,
        rate_bump=0.0,
    )


def simulate(setup: ExposureSetup, seed: int = 11) -> dict[str, np.ndarray]:
    run = compile_run(setup)
    z = np.random.default_rng(seed).standard_normal(
        (setup.paths, len(run.model.times), run.model.n_normals)
    )
    return run, evaluate_block(run, z)


def test_curve_reproduces_ore_discount_factors() -> None:
    """ORE's flows.csv for MinimalSetup: DF 0.9787813644 at 2017-03-01, 0.9214806401 at
    2020-03-02 (simple ACT/360 2% quoted for 1Y from spot, spot lag 2, log-linear DFs)."""
    c = ZeroCurve.from_quotes(AS_OF, [dt.date(2017, 2, 9)], [0.02], "ACT/360", "simple")
    got = c.discount_dates([dt.date(2017, 3, 1), dt.date(2020, 3, 2)])
    assert got == pytest.approx([0.9787813644, 0.9214806401], abs=2e-10)


def test_payer_swap_ee_equals_swaption_prices_along_the_profile() -> None:
    """Discounted EE of a payer swap at a reset date = payer swaption on the rest (Jamshidian)."""
    hw = HullWhite(0.03, 0.008)
    disc, fwd = flat(0.02), flat(0.021)
    swap = Swap(
        "s",
        "EUR",
        1e7,
        0.021,
        True,
        dt.date(2016, 3, 1),
        dt.date(2031, 3, 3),
        "1Y",
        "6M",
        "ACT/360",
        "ACT/360",
        "F",
    )
    resets = dates.schedule(swap.start, swap.end, "6M")[1:-1]
    cur = CurrencySetup(disc, {"F": fwd}, hw)
    setup = setup_for([swap], {"EUR": cur}, resets)
    _run, out = simulate(setup)
    pos = out["pos"][0, :, :, 0]
    ee, se = pos.mean(axis=0), pos.std(axis=0, ddof=1) / np.sqrt(setup.paths)
    # The swap's cash flows in bond form, from the same schedule helper but priced analytically.
    fixed = dates.schedule(swap.start, swap.end, "1Y")
    flt = dates.schedule(swap.start, swap.end, "6M")
    tm = lambda d: dates.model_time(AS_OF, d)  # noqa: E731
    beta = fwd.discount_dates(flt) / disc.discount_dates(flt)
    checked = 0
    for k, d in enumerate(resets):
        t = tm(d)
        coeffs: dict[float, float] = {}
        for a, b in itertools.pairwise(fixed):
            if tm(b) > t:
                coeffs[tm(b)] = coeffs.get(tm(b), 0.0) + 1e7 * 0.021 * dates.year_fraction(
                    a, b, "ACT/360"
                )
        b0 = 0.0
        for j, (a, b) in enumerate(itertools.pairwise(flt)):
            if tm(a) >= t - 1e-12:
                ratio = beta[j] / beta[j + 1]
                if abs(tm(a) - t) < 1e-12:
                    b0 += 1e7 * ratio
                else:
                    coeffs[tm(a)] = coeffs.get(tm(a), 0.0) - 1e7 * ratio
                coeffs[tm(b)] = coeffs.get(tm(b), 0.0) + 1e7
        mats = np.array(sorted(coeffs))
        c = np.array([coeffs[m] for m in mats])
        price = analytic.payer_swaption(
            hw, t, float(disc.discount(np.array(t))), b0, c, mats, disc.discount(mats)
        )
        assert abs(ee[k] - price) <= 3.5 * se[k] + 1e-6, (d, ee[k], price, se[k])
        checked += 1
    assert checked == len(resets) and ee.max() > 1e5  # a real profile, not zeros


def test_fx_forward_ee_matches_black_with_deterministic_rates() -> None:
    eur = CurrencySetup(flat(0.02), {}, HullWhite(0.03, 0.0))
    usd = CurrencySetup(flat(0.04), {}, HullWhite(0.03, 0.0), fx_spot=0.9, fx_vol=0.12)
    mat = dt.date(2019, 2, 5)
    fwd = FxForward("f", "USD", "EUR", 1e6, 0.88, mat)
    report = dates.grid_dates(AS_OF, [("3Y", "3M")])
    setup = setup_for(
        [fwd], {"EUR": eur, "USD": usd}, report, factors=("IR:EUR", "IR:USD", "FX:USD"), paths=20000
    )
    run, out = simulate(setup)
    pos = out["pos"][0, :, :, 0]
    T = dates.model_time(AS_OF, mat)
    p_d, p_f = float(eur.discount.discount(np.array(T))), float(usd.discount.discount(np.array(T)))
    forward = 0.9 * p_f / p_d
    for k, t in enumerate(run.report_times[:-1]):
        want = analytic.fx_forward_epe(1e6, 0.88, forward, p_d, 0.12, t)
        se = pos[:, k].std(ddof=1) / np.sqrt(setup.paths)
        assert abs(pos[:, k].mean() - want) <= 3.5 * se, (t, pos[:, k].mean(), want, se)


def test_cva_against_the_direct_integral() -> None:
    """CVA = (1−R) ∫ EPE(t) λ e^{−λt} dt for an FX forward with a closed-form EPE."""
    lam, rec, vol, K, fwd_rate, pd_T, T = 0.02, 0.4, 0.15, 1.0, 1.02, 0.95, 3.0
    epe = lambda t: analytic.fx_forward_epe(1e6, K, fwd_rate, pd_T, vol, t)  # noqa: E731
    integral = (1 - rec) * quad(lambda t: epe(t) * lam * np.exp(-lam * t), 0, T, limit=200)[0]
    times = np.linspace(T / 720, T, 720)
    credit = measures.Credit(np.array([5.0]), np.array([lam]), rec)
    per_path = np.array([[epe(t) for t in times]])  # one "path" carrying the exact EPE
    cva, _ = measures.cva(np.vstack([per_path, per_path]), credit, times)
    assert cva == pytest.approx(integral, rel=2e-3)


def test_hazard_survival_and_eepe_definitions() -> None:
    credit = measures.Credit(np.array([1.0, 5.0]), np.array([0.01, 0.03]), 0.4)
    assert credit.survival(np.array([0.5, 1.0, 3.0, 7.0])) == pytest.approx(
        np.exp(-np.array([0.005, 0.01, 0.01 + 0.06, 0.01 + 0.12 + 0.06]))
    )
    times = np.array([0.25, 0.5, 0.75, 1.0, 1.5])
    pos = np.array([[1.0, 3.0, 2.0, 4.0, 9.0]] * 2)
    prof = measures.profile(pos, pos, pos, times, np.ones(5), (0.95,), 10.0)
    assert prof.basel_eee.tolist() == [1.0, 3.0, 3.0, 4.0, 9.0]
    assert prof.eepe == pytest.approx((1 + 3 + 3 + 4) / 4)


def test_csa_collateral_threshold_mta_and_independent_amount() -> None:
    csa = measures.Csa(
        threshold_receive=100, threshold_pay=50, mta=30, independent_amount=10, mpor_days=10
    )
    v = np.array([500.0, 120.0, -500.0, -70.0])
    lag = np.array([400.0, 120.0, -450.0, -70.0])
    # VM: 300; 20 < MTA → 0; −400; −20 → 0.  E = V − VM − IA
    assert measures.collateralised(v, lag, csa).tolist() == [190.0, 110.0, -110.0, -80.0]
    assert measures.collateralised(v, lag, None).tolist() == v.tolist()


def test_foreign_trades_are_martingales_under_the_base_measure() -> None:
    """With stochastic rates in both currencies and every correlation non-zero, the discounted
    value of a USD swap and of a USD/EUR FX forward keeps today's value in expectation at every
    date: the quanto drift of the foreign rates state is right (a wrong sign or a missing term
    shifts these means by many standard errors)."""
    eur = CurrencySetup(flat(0.02), {}, HullWhite(0.03, 0.01))
    usd = CurrencySetup(
        flat(0.04), {"L": flat(0.042)}, HullWhite(0.01, 0.012), fx_spot=0.9, fx_vol=0.15
    )
    corr = np.array([[1.0, 0.5, -0.2], [0.5, 1.0, 0.6], [-0.2, 0.6, 1.0]])
    swap = Swap(
        "u",
        "USD",
        1e7,
        0.04,
        False,
        dt.date(2016, 3, 1),
        dt.date(2026, 3, 2),
        "6M",
        "3M",
        "30/360",
        "ACT/360",
        "L",
    )
    fwd = FxForward("f", "USD", "EUR", 1e7, 0.85, dt.date(2025, 2, 5))
    report = dates.grid_dates(AS_OF, [("10Y", "1Y")])
    for trade in (swap, fwd):
        setup = setup_for(
            [trade],
            {"EUR": eur, "USD": usd},
            report,
            factors=("IR:EUR", "IR:USD", "FX:USD"),
            corr=corr,
            paths=20000,
        )
        run, out = simulate(setup, seed=3)
        value = out["pos"][0, :, :, 0] - out["neg"][0, :, :, 0]

        # Today's value of the cash flows paid after t, from the trade terms and today's curves.
        def p0(ccy: str, d: dt.date) -> float:
            cur = {"EUR": eur, "USD": usd}[ccy]
            return cur.fx_spot * float(cur.discount.discount_dates([d])[0])

        def pv_after(t: float, trade: FxForward | Swap = trade) -> float:
            if isinstance(trade, FxForward):
                if dates.model_time(AS_OF, trade.maturity) <= t:
                    return 0.0
                return 1e7 * (p0("USD", trade.maturity) - 0.85 * p0("EUR", trade.maturity))
            total = 0.0
            fixed = dates.schedule(trade.start, trade.end, "6M")
            for d0, d1 in itertools.pairwise(fixed):
                if dates.model_time(AS_OF, d1) > t:
                    total += 1e7 * 0.04 * dates.year_fraction(d0, d1, "30/360") * p0("USD", d1)
            flt = dates.schedule(trade.start, trade.end, "3M")
            beta = usd.indices["L"].discount_dates(flt) / usd.discount.discount_dates(flt)
            for j, (d0, d1) in enumerate(itertools.pairwise(flt)):
                if dates.model_time(AS_OF, d1) > t:
                    total -= 1e7 * (beta[j] / beta[j + 1] * p0("USD", d0) - p0("USD", d1))
            return total

        for k, t in enumerate(run.report_times[:-1]):
            se = value[:, k].std(ddof=1) / np.sqrt(setup.paths)
            want = pv_after(t)
            assert abs(value[:, k].mean() - want) <= 3.5 * se + 1e-3, (trade.id, t)
        assert value[:, 3].std() > 1e5  # genuinely random, not a deterministic pass


@pytest.mark.parametrize("kind", ["fx", "equity"])
def test_long_option_epe_is_todays_black_price_until_expiry(kind: str) -> None:
    """With deterministic rates and the trade's vol equal to the model's, a long European
    option's discounted value is a martingale: its EPE is today's Black price at every date."""
    from riskgrid.risk.xva.setup import EquitySetup
    from riskgrid.risk.xva.trades import EquityOption, FxOption

    eur = CurrencySetup(flat(0.02), {}, HullWhite(0.03, 0.0))
    usd = CurrencySetup(flat(0.04), {}, HullWhite(0.03, 0.0), fx_spot=0.9, fx_vol=0.12)
    expiry = dt.date(2018, 2, 5)
    T = dates.model_time(AS_OF, expiry)
    if kind == "fx":
        trade = FxOption("o", "USD", "EUR", 1e6, 0.9, True, expiry, 0.12)
        factors = ("IR:EUR", "IR:USD", "FX:USD")
        fwd = 0.9 * float(usd.discount.discount(np.array(T)) / eur.discount.discount(np.array(T)))
        strike, vol, equities = 0.9, 0.12, {}
    else:
        trade = EquityOption("o", "ACME", 1e4, 40.0, False, expiry, 0.3)
        factors = ("IR:EUR", "IR:USD", "FX:USD", "EQ:ACME")
        # A USD share: the option pays USD, valued in EUR through the simulated FX rate.
        equities = {"ACME": EquitySetup("USD", 42.0, 0.01, 0.3)}
        fwd = 42.0 * np.exp(-0.01 * T) / float(usd.discount.discount(np.array(T)))
        strike, vol = 40.0, 0.3
    pay = "EUR" if kind == "fx" else "USD"
    pay_df = float({"EUR": eur, "USD": usd}[pay].discount.discount(np.array(T)))
    fx = 1.0 if pay == "EUR" else 0.9
    sd = vol * np.sqrt(T)
    d1 = (np.log(fwd / strike) + 0.5 * sd * sd) / sd
    from scipy.special import ndtr

    undiscounted = (
        fwd * ndtr(d1) - strike * ndtr(d1 - sd)
        if kind == "fx"
        else strike * ndtr(-(d1 - sd)) - fwd * ndtr(-d1)
    )
    price = (1e6 if kind == "fx" else 1e4) * fx * pay_df * undiscounted
    setup = ExposureSetup(
        as_of=AS_OF,
        base="EUR",
        currencies={"EUR": eur, "USD": usd},
        factor_names=factors,
        correlation=np.eye(len(factors)),
        netting_sets=(NettingSetSetup("ns", "C", None, (trade,)),),
        report_dates=tuple(dates.grid_dates(AS_OF, [("2Y", "3M")])),
        paths=20000,
        seed=1,
        rate_bump=0.0,
        equities=equities,
    )
    run, out = simulate(setup)
    pos, neg = out["pos"][0, :, :, 0], out["neg"][0, :, :, 0]
    assert np.all(neg == 0.0)  # a long option is never a liability
    alive = run.report_times < T
    assert alive.sum() >= 7
    for k in np.flatnonzero(alive):
        se = pos[:, k].std(ddof=1) / np.sqrt(setup.paths)
        assert abs(pos[:, k].mean() - price) <= 3.5 * se, (kind, k, pos[:, k].mean(), price)
    assert np.all(pos[:, ~alive] == 0.0)  # expired: nothing left
