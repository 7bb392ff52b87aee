#!/usr/bin/env python3
"""Monte Carlo pricing: riskgrid vs QuantLib at the same standard error, per core; and the
parallel efficiency of the exotics grid demo from 1 to 2 workers.

    .venv/bin/python benchmarks/bench_mc.py [--paths 16384] [--repeat 3] [--positions 48]
                                            [--skip-parallel | --efficiency-only | --quick]

Part 1 — same standard error. For each product riskgrid prices one option with ``--paths``
paths and reports its standard error (SE); QuantLib's pseudo-random MC engine for the same
product is then asked for that SE (``requiredTolerance``), so both answers are equally
precise. Products: arithmetic average-price Asian (12 monthly fixings, both with the geometric
control variate), down-and-out call monitored weekly (52 dates, QuantLib ``MCPRBarrierEngine``
with ``isBiased=True`` = checks at the grid dates), American put by Longstaff–Schwartz (50
dates; QuantLib ``MCPRAmericanEngine``), and a Heston European call by QE-M Monte Carlo
(52 steps, antithetic; ours with its two control variates — the discounted terminal spot
(a martingale under QE-M) and the call on the shadow GBM driven by the same normals
(Black–Scholes mean), the estimator the job's Heston Asians and continuous barriers use —
and QuantLib ``MCPREuropeanHestonEngine`` as it is: QE-M, antithetic, QuantLib offers no
control variate for it). Times are CPU seconds of this process
(single-threaded BLAS), min and median of ``--repeat`` runs, both sides warm. The prices are
printed side by side (they must agree within ~3 combined SEs).

Part 2 — parallel efficiency: ``riskgrid`` runs the exotics demo job (the first
``--positions`` positions, evenly spread over the book, all 250 scenarios) with ``--workers
1`` and ``--workers 2``, ``--repeat`` times each (interleaved); efficiency = T1 / (2·T2) from
the minima and from the medians, and the Amdahl bound from the serial part (calibration,
planning, aggregation) of the best 1-worker run. ``--quick`` = part 2 alone on 96 positions
(≤ 5 min on a quiet 2-core machine). The load average is printed around every run: on a
shared machine it dominates the result.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import dataclasses  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import QuantLib as ql  # noqa: E402

from riskgrid.risk import exotic_mc, rng  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DC = ql.Actual365Fixed()
TODAY = ql.Date(20, 11, 2026)
S, K, R, Q, VOL, T_DAYS = 100.0, 100.0, 0.04, 0.01, 0.25, 365
T = T_DAYS / 365.0


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0:3].__str__()
    except OSError:
        return "n/a"


def timed(repeat: int, fn: Callable[[], tuple[float, float]]) -> tuple[float, float, float, float]:
    """(min CPU s, median CPU s, price, se) over ``repeat`` runs."""
    times, out = [], (0.0, 0.0)
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return min(times), statistics.median(times), out[0], out[1]


def bs_process() -> ql.BlackScholesMertonProcess:
    ql.Settings.instance().evaluationDate = TODAY
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(S)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, Q, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, R, DC, ql.Continuous)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), VOL, DC)),
    )


def one(x: float) -> np.ndarray:
    return np.array([x])


# -- riskgrid ---------------------------------------------------------------------------------
def rg_asian(paths: int) -> tuple[float, float]:
    times = np.arange(1, 13) / 12 * T
    z = rng.normals(1, 11, paths, 12, antithetic=True)
    p, se = exotic_mc.asian(
        z,
        times=times,
        expiry=T,
        is_call=True,
        geometric=False,
        average_strike=False,
        strike=K,
        past_sum=0.0,
        past_log_sum=0.0,
        n_total=12,
        spot=one(S),
        r=one(R),
        q=one(Q),
        vol=one(VOL),
        antithetic=True,
        control_variate=True,
    )
    return float(p[0]), float(se[0])


def rg_barrier(paths: int) -> tuple[float, float]:
    times = np.arange(1, 53) / 52 * T
    z = rng.normals(1, 12, paths, 52, antithetic=True)
    p, se = exotic_mc.barrier_discrete(
        z,
        times=times,
        expiry=T,
        is_call=True,
        is_down=True,
        is_in=False,
        strike=K,
        barrier=85.0,
        rebate=0.0,
        spot=one(S),
        r=one(R),
        q=one(Q),
        vol=one(VOL),
        antithetic=True,
    )
    return float(p[0]), float(se[0])


def rg_lsm(paths: int) -> tuple[float, float]:
    times = np.arange(1, 51) / 50 * T
    z = rng.normals(1, 13, paths, 50, antithetic=True)
    p, se = exotic_mc.lsm(
        z,
        times=times,
        is_call=False,
        strike=K,
        spot=one(S),
        r=one(R),
        q=one(Q),
        vol=one(VOL),
        antithetic=True,
    )
    return float(p[0]), float(se[0])


HESTON = {"v0": 0.04, "kappa": 1.5, "theta": 0.05, "sigma": 0.5, "rho": -0.7}


def rg_heston(paths: int) -> tuple[float, float]:
    """QE-M paths with the martingale and shadow-GBM control variates (the estimator the job's
    Heston Asians and barriers use): ``exotic_mc.heston_european``."""
    times = np.arange(1, 53) / 52 * T
    z = rng.normals(1, 14, paths, 104, antithetic=True)
    p, se = exotic_mc.heston_european(
        z,
        times=times,
        is_call=True,
        strike=K,
        spot=one(S),
        r=one(R),
        q=one(Q),
        v0=one(HESTON["v0"]),
        kappa=HESTON["kappa"],
        theta=one(HESTON["theta"]),
        sigma=HESTON["sigma"],
        rho=HESTON["rho"],
        antithetic=True,
        control_variate=True,
    )
    return float(p[0]), float(se[0])


# -- QuantLib ---------------------------------------------------------------------------------
def _payoff(call: bool) -> ql.PlainVanillaPayoff:
    return ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, K)


def ql_asian(tol: float) -> tuple[float, float]:
    dates = [TODAY + round(T_DAYS * (j + 1) / 12) for j in range(12)]
    opt = ql.DiscreteAveragingAsianOption(
        ql.Average.Arithmetic, 0.0, 0, dates, _payoff(True), ql.EuropeanExercise(TODAY + T_DAYS)
    )
    opt.setPricingEngine(
        ql.MCPRDiscreteArithmeticAPEngine(
            bs_process(), antitheticVariate=True, controlVariate=True, requiredTolerance=tol, seed=7
        )
    )
    return opt.NPV(), opt.errorEstimate()


def ql_barrier(tol: float) -> tuple[float, float]:
    opt = ql.BarrierOption(
        ql.Barrier.DownOut, 85.0, 0.0, _payoff(True), ql.EuropeanExercise(TODAY + T_DAYS)
    )
    opt.setPricingEngine(
        ql.MCPRBarrierEngine(
            bs_process(),
            timeSteps=52,
            brownianBridge=False,
            antitheticVariate=True,
            requiredTolerance=tol,
            isBiased=True,
            seed=7,
        )
    )
    return opt.NPV(), opt.errorEstimate()


def ql_lsm(tol: float) -> tuple[float, float]:
    opt = ql.VanillaOption(_payoff(False), ql.AmericanExercise(TODAY, TODAY + T_DAYS))
    opt.setPricingEngine(
        ql.MCPRAmericanEngine(
            bs_process(),
            timeSteps=50,
            antitheticVariate=True,
            requiredTolerance=tol,
            seed=7,
            polynomOrder=2,
            polynomType=ql.LsmBasisSystem.Monomial,
        )
    )
    return opt.NPV(), opt.errorEstimate()


def ql_heston(tol: float) -> tuple[float, float]:
    ql.Settings.instance().evaluationDate = TODAY
    hp = ql.HestonProcess(
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, R, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, Q, DC, ql.Continuous)),
        ql.QuoteHandle(ql.SimpleQuote(S)),
        HESTON["v0"],
        HESTON["kappa"],
        HESTON["theta"],
        HESTON["sigma"],
        HESTON["rho"],
        ql.HestonProcess.QuadraticExponentialMartingale,
    )
    opt = ql.VanillaOption(_payoff(True), ql.EuropeanExercise(TODAY + T_DAYS))
    opt.setPricingEngine(
        ql.MCPREuropeanHestonEngine(
            hp, timeSteps=52, antitheticVariate=True, requiredTolerance=tol, seed=7
        )
    )
    return opt.NPV(), opt.errorEstimate()


PRODUCTS = [
    ("Asian arithmetic (12 fixings, CV)", rg_asian, ql_asian),
    ("Barrier down-out, 52 dates", rg_barrier, ql_barrier),
    ("American put LSM (50 dates)", rg_lsm, ql_lsm),
    ("Heston European (QE-M, 52 steps)", rg_heston, ql_heston),
]


def part1(paths: int, repeat: int) -> None:
    print(f"Part 1 — same standard error, per core (CPU s; {paths} riskgrid paths)")
    print(f"load before: {loadavg()}")
    head = (
        f"{'product':36} {'rg price':>9} {'rg SE':>8} {'rg min/med s':>14} "
        f"{'QL price':>9} {'QL SE':>8} {'QL min/med s':>14} {'speed-up':>9}"
    )
    print(head)
    for name, ours, theirs in PRODUCTS:
        ours(1024)  # warm
        r_min, r_med, r_p, r_se = timed(repeat, lambda o=ours: o(paths))
        theirs(r_se * 4)  # warm
        q_min, q_med, q_p, q_se = timed(repeat, lambda t=theirs, s=r_se: t(s))
        print(
            f"{name:36} {r_p:9.4f} {r_se:8.5f} {r_min:6.3f}/{r_med:6.3f} "
            f"{q_p:9.4f} {q_se:8.5f} {q_min:6.3f}/{q_med:6.3f} {q_min / r_min:8.1f}×"
        )
    print(f"load after: {loadavg()}")


def part1b(n_states: int, repeat: int) -> None:
    """The production Heston European price: semi-analytic on both sides, same accuracy.

    One Heston call revalued under ``n_states`` spot scenarios (±10%), as a VaR job does:
    riskgrid's Lewis integral vectorised over the states vs QuantLib's AnalyticHestonEngine
    (its default Gauss–Laguerre integration) with a prebuilt option and ``SimpleQuote.setValue``
    + ``NPV()`` per state, the fastest QuantLib path. Prices must agree to 1e-7.
    """
    from riskgrid.risk import heston

    spots = S * np.linspace(0.9, 1.1, n_states)
    hp = heston.HestonParams(**HESTON)

    def ours() -> np.ndarray:
        return heston.european(True, spots, K, T, R, Q, hp)

    ql.Settings.instance().evaluationDate = TODAY
    quote = ql.SimpleQuote(S)
    proc = ql.HestonProcess(
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, R, DC, ql.Continuous)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, Q, DC, ql.Continuous)),
        ql.QuoteHandle(quote),
        *(HESTON[k] for k in ("v0", "kappa", "theta", "sigma", "rho")),
    )
    opt = ql.VanillaOption(_payoff(True), ql.EuropeanExercise(TODAY + T_DAYS))
    opt.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(proc)))

    def theirs() -> np.ndarray:
        out = np.empty(n_states)
        for j, x in enumerate(spots):
            quote.setValue(float(x))
            out[j] = opt.NPV()
        return out

    ours()
    theirs()  # warm
    r_t, q_t = [], []
    for _ in range(repeat):
        t0 = time.process_time()
        a = ours()
        r_t.append(time.process_time() - t0)
        t0 = time.process_time()
        b = theirs()
        q_t.append(time.process_time() - t0)
    diff = float(np.max(np.abs(a - b)))
    print(
        f"\nPart 1b — Heston European, semi-analytic both sides, {n_states} spot states: "
        f"riskgrid Lewis {min(r_t) * 1e3:.2f}/{statistics.median(r_t) * 1e3:.2f} ms, "
        f"QuantLib AnalyticHestonEngine {min(q_t) * 1e3:.2f}/{statistics.median(q_t) * 1e3:.2f}"
        f" ms (min/median), {min(q_t) / min(r_t):.1f}×; max |difference| {diff:.1e}"
    )


def part2(positions: int, repeat: int) -> None:
    import yaml

    from riskgrid.grid.runner import execute
    from riskgrid.spec.job import load_job

    src = REPO / "examples" / "jobs" / "exotics-var.yaml"
    inputs = load_job(src)
    p = inputs.portfolio
    pick = np.unique(np.linspace(0, p.n - 1, min(positions, p.n)).round().astype(int))
    # a sub-portfolio: same rows, same streams (keyed by id), as a new Portfolio
    sub = dataclasses.replace(
        p,
        ids=p.ids[pick],
        kind=p.kind[pick],
        quantity=p.quantity[pick],
        strike=p.strike[pick],
        t=p.t[pick],
        is_call=p.is_call[pick],
        spot_idx=p.spot_idx[pick],
        vol_idx=p.vol_idx[pick],
        dom_curve=p.dom_curve[pick],
        for_curve=p.for_curve[pick],
        conv_idx=p.conv_idx[pick],
        conv_invert=p.conv_invert[pick],
        groups={k: v[pick] for k, v in p.groups.items()},
        exotic={j: p.exotic[int(i)] for j, i in enumerate(pick) if int(i) in p.exotic},
    )
    sub_inputs = dataclasses.replace(inputs, portfolio=sub)
    del yaml
    print(
        f"\nPart 2 — parallel efficiency: exotics-var, {sub.n} positions × "
        f"{inputs.scenarios.n} scenarios, min/median of {repeat} runs per worker count"
    )
    walls: dict[int, list[float]] = {1: [], 2: []}
    serial: dict[int, list[float]] = {1: [], 2: []}
    answers = set()
    for rep in range(repeat):
        for w in (1, 2):  # interleaved, so a load change hits both counts alike
            before = loadavg()
            t0 = time.perf_counter()
            ex = execute(sub_inputs, workers=w)
            wall = time.perf_counter() - t0
            walls[w].append(wall)
            if ex.result.status != "completed":
                raise SystemExit(f"workers={w}: {ex.result.status}: {ex.result.message}")
            answers.add(ex.result.portfolio.var["0.99"])
            tm = ex.result.timings
            serial[w].append(tm.plan_seconds + tm.aggregate_seconds)
            print(
                f"run {rep + 1} workers={w}: {wall:7.2f} s wall (plan+calibration "
                f"{tm.plan_seconds:.2f}, tasks {tm.run_seconds:.2f}, aggregate "
                f"{tm.aggregate_seconds:.2f}), {ex.result.tasks.total} tasks, "
                f"VaR99 {ex.result.portfolio.var['0.99']:.2f}, load {before} → {loadavg()}"
            )
    if len(answers) != 1:
        raise SystemExit(f"answers differ between runs: {sorted(answers)}")
    t1, t2 = walls[1], walls[2]
    print(
        f"workers=1: min {min(t1):.2f} s, median {statistics.median(t1):.2f} s; "
        f"workers=2: min {min(t2):.2f} s, median {statistics.median(t2):.2f} s"
    )
    print(
        f"parallel efficiency 1→2 workers: {min(t1) / (2 * min(t2)):.1%} (min), "
        f"{statistics.median(t1) / (2 * statistics.median(t2)):.1%} (median); "
        f"{os.cpu_count()} CPUs, load now {loadavg()}"
    )
    # Amdahl: the serial part (calibration, planning, aggregation) of the fastest 1-worker run
    k = t1.index(min(t1))
    ser = serial[1][k]
    print(
        f"serial part of the best 1-worker run: {ser:.2f} s of {t1[k]:.2f} s → efficiency "
        f"bound on 2 idle cores {t1[k] / (2 * (ser + (t1[k] - ser) / 2)):.1%}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=16384)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--positions", type=int, default=48)
    ap.add_argument("--skip-parallel", action="store_true")
    ap.add_argument(
        "--efficiency-only", action="store_true", help="part 2 only (the parallel efficiency)"
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="part 2 only on 96 positions, 3 runs each: about 2–5 min on a quiet 2-core machine",
    )
    a = ap.parse_args()
    if a.quick:
        a.efficiency_only, a.positions = True, 96
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"QuantLib {ql.__version__}, NumPy {np.__version__}"
    )
    if not a.efficiency_only:
        part1(a.paths, a.repeat)
        part1b(250, a.repeat)
    if not a.skip_parallel:
        part2(a.positions, a.repeat)


if __name__ == "__main__":
    main()
