"""QuantLib (test-only) reference pricers for the exotic cross-checks: flat curves, ACT/365F."""

from __future__ import annotations

import QuantLib as ql

DC = ql.Actual365Fixed()
TODAY = ql.Date(20, 11, 2026)


def process(s: float, r: float, q: float, vol: float) -> ql.BlackScholesMertonProcess:
    ql.Settings.instance().evaluationDate = TODAY
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, DC, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DC)),
    )


def _payoff(call: bool, k: float) -> ql.PlainVanillaPayoff:
    return ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, k)


BARRIER_TYPES = {
    "down-in": ql.Barrier.DownIn,
    "down-out": ql.Barrier.DownOut,
    "up-in": ql.Barrier.UpIn,
    "up-out": ql.Barrier.UpOut,
}


def barrier(
    kind: str,
    h: float,
    rebate: float,
    call: bool,
    k: float,
    days: int,
    s: float,
    r: float,
    q: float,
    vol: float,
    *,
    mc_steps: int = 0,
    samples: int = 0,
) -> tuple[float, float]:
    """(NPV, error estimate): analytic (continuous) or MC with ``mc_steps`` monitoring dates."""
    opt = ql.BarrierOption(
        BARRIER_TYPES[kind], h, rebate, _payoff(call, k), ql.EuropeanExercise(TODAY + days)
    )
    p = process(s, r, q, vol)
    if mc_steps:
        opt.setPricingEngine(
            ql.MCPRBarrierEngine(
                p,
                timeSteps=mc_steps,
                brownianBridge=False,
                antitheticVariate=True,
                requiredSamples=samples,
                isBiased=True,  # check the path at the time-grid nodes only: discrete monitoring
                seed=42,
            )
        )
        return opt.NPV(), opt.errorEstimate()
    opt.setPricingEngine(ql.AnalyticBarrierEngine(p))
    return opt.NPV(), 0.0


def asian_arithmetic(
    call: bool,
    k: float,
    fixing_days: list[int],
    expiry_days: int,
    s: float,
    r: float,
    q: float,
    vol: float,
    *,
    samples: int,
) -> tuple[float, float]:
    """MC arithmetic average-price (QuantLib, pseudo-random, geometric control variate)."""
    dates = [TODAY + d for d in fixing_days]
    opt = ql.DiscreteAveragingAsianOption(
        ql.Average.Arithmetic,
        0.0,
        0,
        dates,
        _payoff(call, k),
        ql.EuropeanExercise(TODAY + expiry_days),
    )
    opt.setPricingEngine(
        ql.MCPRDiscreteArithmeticAPEngine(
            process(s, r, q, vol),
            antitheticVariate=False,
            controlVariate=True,
            requiredSamples=samples,
            seed=42,
        )
    )
    return opt.NPV(), opt.errorEstimate()


def american_fd(
    call: bool,
    k: float,
    days: int,
    s: float,
    r: float,
    q: float,
    vol: float,
    *,
    t_grid: int = 800,
    x_grid: int = 800,
) -> float:
    opt = ql.VanillaOption(_payoff(call, k), ql.AmericanExercise(TODAY, TODAY + days))
    opt.setPricingEngine(ql.FdBlackScholesVanillaEngine(process(s, r, q, vol), t_grid, x_grid, 2))
    return opt.NPV()


def heston_european(
    call: bool,
    k: float,
    days: int,
    s: float,
    r: float,
    q: float,
    v0: float,
    kappa: float,
    theta: float,
    sigma: float,
    rho: float,
) -> float:
    ql.Settings.instance().evaluationDate = TODAY
    hp = ql.HestonProcess(
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, DC, ql.Continuous)),
        ql.QuoteHandle(ql.SimpleQuote(s)),
        v0,
        kappa,
        theta,
        sigma,
        rho,
    )
    opt = ql.VanillaOption(_payoff(call, k), ql.EuropeanExercise(TODAY + days))
    opt.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(hp), 1e-12, 100_000))
    return opt.NPV()


def heston_european_mc(
    call: bool,
    k: float,
    days: int,
    s: float,
    r: float,
    q: float,
    heston: tuple[float, float, float, float, float],
    steps: int,
    samples: int,
) -> tuple[float, float]:
    """QuantLib's QE-M Monte Carlo (antithetic, ``samples`` paths): (price, standard error)."""
    ql.Settings.instance().evaluationDate = TODAY
    hp = ql.HestonProcess(
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, q, DC, ql.Continuous)),
        ql.QuoteHandle(ql.SimpleQuote(s)),
        *heston,
        ql.HestonProcess.QuadraticExponentialMartingale,
    )
    opt = ql.VanillaOption(_payoff(call, k), ql.EuropeanExercise(TODAY + days))
    opt.setPricingEngine(
        ql.MCPREuropeanHestonEngine(
            hp, timeSteps=steps, antitheticVariate=True, requiredSamples=samples, seed=42
        )
    )
    return opt.NPV(), opt.errorEstimate()
