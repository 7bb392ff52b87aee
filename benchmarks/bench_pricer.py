#!/usr/bin/env python3
"""Revaluation throughput: riskgrid's European option pricer vs QuantLib-Python, per core.

    .venv/bin/python benchmarks/bench_pricer.py [--options 2000] [--scenarios 250]

The same European options (random strikes, expiries, vols, calls and puts) are revalued under
the same spot scenarios by:

* **QuantLib, prebuilt** — one ``EuropeanOption`` + ``AnalyticEuropeanEngine`` per option, each
  with its own ``SimpleQuote`` spot; per scenario: ``quote.setValue(S')`` then ``NPV()`` (lazy
  recalculation, QuantLib's fastest path from Python);
* **QuantLib, build + NPV** — the objects built and priced afresh (what a naive loop does);
* **riskgrid kernel** — ``black_scholes.price`` on the (options × scenarios) grid;
* **riskgrid pnl_block** — the production path: ``revaluation.pnl_block`` on a portfolio of
  the same options, including curve/vol lookups, scenario gathering and base-currency P&L.

Everything runs single-threaded (OMP/OPENBLAS/MKL threads set to 1 before NumPy loads), so the
rates are per core. Times are CPU seconds of this process (``time.process_time``), the best of
``--repeat`` runs: on a shared machine that is steadier than wall-clock time, and it is the same
clock for both sides. Prices are compared (max relative difference) so the speed is for the same
answers.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import datetime as dt  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import QuantLib as ql  # noqa: E402

from riskgrid.risk import black_scholes, revaluation, scenarios  # noqa: E402
from riskgrid.risk import market as mk  # noqa: E402
from riskgrid.risk import portfolio as pf  # noqa: E402

TODAY = dt.date(2026, 11, 20)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--options", type=int, default=2000)
    ap.add_argument("--scenarios", type=int, default=250)
    ap.add_argument("--ql-scenarios", type=int, default=10, help="scenarios for QuantLib loops")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    n, m = a.options, a.scenarios
    call = rng.random(n) < 0.5
    spot0 = 100.0
    strike = spot0 * rng.uniform(0.7, 1.3, n)
    days = rng.integers(14, 3 * 365, n)
    t = days / 365.0
    vol = rng.uniform(0.1, 0.5, n)
    r, q = 0.04, 0.015
    mult = np.exp(rng.normal(0.0, 0.015, m))  # spot scenarios, shared by all options
    shocked = spot0 * mult

    # -- QuantLib, prebuilt ------------------------------------------------------------------
    today = ql.Date(TODAY.day, TODAY.month, TODAY.year)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc, ql.Continuous))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc, ql.Continuous))

    def build(i: int, s: float) -> tuple[ql.EuropeanOption, ql.SimpleQuote]:
        quote = ql.SimpleQuote(s)
        vts = ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), float(vol[i]), dc)
        )
        process = ql.BlackScholesMertonProcess(ql.QuoteHandle(quote), qts, rts, vts)
        opt = ql.EuropeanOption(
            ql.PlainVanillaPayoff(ql.Option.Call if call[i] else ql.Option.Put, float(strike[i])),
            ql.EuropeanExercise(today + int(days[i])),
        )
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        return opt, quote

    built = [build(i, spot0) for i in range(n)]
    for opt, _ in built:
        opt.NPV()
    k_ql = min(a.ql_scenarios, m)
    ql_prices = np.empty((n, k_ql))

    def ql_prebuilt() -> None:
        for j in range(k_ql):
            s = float(shocked[j])
            for i, (opt, quote) in enumerate(built):
                quote.setValue(s)
                ql_prices[i, j] = opt.NPV()

    def ql_rebuild() -> None:
        for j in range(k_ql):
            s = float(shocked[j])
            for i in range(n):
                build(i, s)[0].NPV()

    t_ql = best_of(a.repeat, ql_prebuilt)
    t_ql_build = best_of(1, ql_rebuild)

    # -- riskgrid kernel ---------------------------------------------------------------------
    s_grid = np.broadcast_to(shocked[None, :], (n, m))

    def kernel() -> np.ndarray:
        return black_scholes.price(
            call[:, None], s_grid, strike[:, None], t[:, None], r, q, vol[:, None]
        )

    ours = kernel()
    t_kernel = best_of(a.repeat, kernel)
    worth = ql_prices > 1e-6 * spot0
    rel = np.abs(ours[:, :k_ql][worth] - ql_prices[worth]) / ql_prices[worth]

    # -- riskgrid pnl_block (production path) -----------------------------------------------
    market = mk.build(
        as_of=TODAY,
        base_currency="USD",
        curve_pillars={"USD": [("1Y", r)]},
        fx={},
        equities={"ACME": (spot0, "USD", q)},
        vols={"ACME": [("1Y", 0.2)]},
    )
    # flat vol per option is not expressible on one underlying; use one underlying per option
    recs = [
        pf.PositionRecord(
            f"o{i}",
            "equity_option",
            1.0,
            "ACME",
            None,
            float(strike[i]),
            TODAY + dt.timedelta(days=int(days[i])),
            "call" if call[i] else "put",
        )
        for i in range(n)
    ]
    book = pf.build(recs, market)
    sc = scenarios.identity(market, tuple(f"s{j}" for j in range(m)))
    sc.spot_mult[0, :] = mult

    def production() -> np.ndarray:
        return revaluation.pnl_block(book, market, sc)

    production()
    t_pnl = best_of(a.repeat, production)

    evals_ql = n * k_ql
    evals = n * m
    ql_rate = evals_ql / t_ql
    rows = [
        ("QuantLib prebuilt (setValue + NPV)", ql_rate),
        ("QuantLib build + NPV", evals_ql / t_ql_build),
        ("riskgrid black_scholes.price", evals / t_kernel),
        ("riskgrid revaluation.pnl_block", evals / t_pnl),
    ]
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} "
        f"cpus={os.cpu_count()} python={platform.python_version()} "
        f"numpy={np.__version__} QuantLib={ql.__version__}; single thread"
    )
    print(
        f"options={n} scenarios={m} (QuantLib loops: {k_ql} scenarios); "
        f"best of {a.repeat}, CPU time"
    )
    print(f"max relative difference vs QuantLib (options worth > 1e-6·S): {rel.max():.2e}")
    print(f"{'pricer':40s} {'options/s':>14s} {'ns/option':>10s} {'vs QuantLib prebuilt':>22s}")
    for name, rate in rows:
        print(f"{name:40s} {rate:14,.0f} {1e9 / rate:10.1f} {rate / ql_rate:21.1f}x")


if __name__ == "__main__":
    main()
