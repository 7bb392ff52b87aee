"""An exposure run's inputs as plain data, and their compilation into simulation books.

``compile_run`` builds the simulation timeline — report dates, every floating coupon's fixing
date, and each report date less the margin period of risk — the model with its exact step
covariances, and one :class:`~riskgrid.risk.xva.valuation.Book` per scenario: the base market
and, for CVA rate sensitivities, each currency's curves shifted in parallel. All books share
the model and the timeline, so one set of simulated states values every scenario (common random
numbers by construction).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from riskgrid.risk.xva import dates as xd
from riskgrid.risk.xva.curves import ZeroCurve
from riskgrid.risk.xva.measures import Credit, Csa
from riskgrid.risk.xva.model import Factor, HullWhite, Model, build_model
from riskgrid.risk.xva.trades import (
    Cashflows,
    EquityOption,
    FxForward,
    Swap,
    Trade,
    add_fx_forward,
    add_option,
    add_swap,
)
from riskgrid.risk.xva.valuation import Book, CompiledOption, OptionLeg, compile_currency


@dataclass(frozen=True)
class CurrencySetup:
    discount: ZeroCurve
    indices: dict[str, ZeroCurve]
    rates: HullWhite
    fx_spot: float = 1.0
    fx_vol: float = 0.0


@dataclass(frozen=True)
class EquitySetup:
    currency: str
    spot: float
    dividend_yield: float
    volatility: float


@dataclass(frozen=True)
class NettingSetSetup:
    name: str
    counterparty: str
    csa: Csa | None
    trades: tuple[Trade, ...]


@dataclass(frozen=True)
class ExposureSetup:
    as_of: dt.date
    base: str
    currencies: dict[str, CurrencySetup]
    factor_names: tuple[str, ...]
    correlation: np.ndarray
    netting_sets: tuple[NettingSetSetup, ...]
    report_dates: tuple[dt.date, ...]
    paths: int
    seed: int
    quantiles: tuple[float, ...] = (0.95,)
    counterparties: dict[str, Credit] = field(default_factory=dict)
    bank: Credit | None = None
    rate_bump: float = 1e-4
    credit_bump: float = 1e-4
    equities: dict[str, EquitySetup] = field(default_factory=dict)

    @property
    def n_trades(self) -> int:
        return sum(len(ns.trades) for ns in self.netting_sets)


@dataclass(frozen=True)
class CompiledRun:
    model: Model
    books: tuple[Book, ...]  # [0] base; then one per currency shifted by rate_bump
    scenario_names: tuple[str, ...]
    report_idx: np.ndarray  # timeline index of each report date
    lag_idx: np.ndarray  # timeline index of each report date − MPoR, per netting set (ns, R)
    report_times: np.ndarray
    report_p0: np.ndarray  # base discount factors at the report dates
    maturities: np.ndarray  # last payment per netting set (model time)
    csas: tuple[Csa | None, ...]


def _cashflows(setup: ExposureSetup, shift: dict[str, float]) -> Cashflows:
    cf = Cashflows()
    for k, ns in enumerate(setup.netting_sets):
        for tr in ns.trades:
            if isinstance(tr, Swap):
                cur = setup.currencies[tr.currency]
                bump = shift.get(tr.currency, 0.0)
                fwd = cur.indices[tr.index] if tr.index else cur.discount
                add_swap(cf, tr, k, setup.as_of, cur.discount.shifted(bump), fwd.shifted(bump))
            elif isinstance(tr, FxForward):
                add_fx_forward(cf, tr, k, setup.as_of)
            elif isinstance(tr, EquityOption):
                add_option(cf, tr, k, setup.as_of, setup.equities[tr.underlying].currency)
            else:
                add_option(cf, tr, k, setup.as_of)
    return cf


def _expiry_of(tr: Trade) -> dt.date:
    if isinstance(tr, Swap):
        return tr.end
    return tr.maturity if isinstance(tr, FxForward) else tr.expiry


def _options(
    setup: ExposureSetup, cf: Cashflows, shift: dict[str, float], idx: dict[str, int]
) -> tuple[CompiledOption, ...]:
    out = []
    for o in cf.options:

        def leg(ccy: str, t: float = o.expiry) -> OptionLeg:
            cur = setup.currencies[ccy]
            p0 = float(cur.discount.shifted(shift.get(ccy, 0.0)).discount(np.array(t)))
            return OptionLeg(ccy, p0, float(cur.rates.H(np.array(t))))

        if o.kind == "fx":
            out.append(
                CompiledOption(
                    "fx",
                    o.amount,
                    o.strike,
                    o.call,
                    o.expiry,
                    o.volatility,
                    o.netting_set,
                    leg(o.currency),
                    leg(o.underlying),
                )
            )
        else:
            eq = setup.equities[o.underlying]
            out.append(
                CompiledOption(
                    "equity",
                    o.amount,
                    o.strike,
                    o.call,
                    o.expiry,
                    o.volatility,
                    o.netting_set,
                    leg(o.currency),
                    None,
                    idx[f"EQ:{o.underlying}"],
                    setup.currencies[eq.currency].fx_spot * eq.spot,
                    eq.dividend_yield,
                )
            )
    return tuple(out)


def _maturities(setup: ExposureSetup) -> np.ndarray:
    out = []
    for ns in setup.netting_sets:
        last = max(_expiry_of(tr) for tr in ns.trades)
        out.append(xd.model_time(setup.as_of, last))
    return np.array(out)


def _lag_times(setup: ExposureSetup) -> dict[int, npt.NDArray[np.float64]]:
    """Per margin period of risk (days): each report date's lagged time, floored at today."""
    as_of = setup.as_of
    mpors = sorted({ns.csa.mpor_days for ns in setup.netting_sets if ns.csa and ns.csa.mpor_days})
    return {
        m: np.array(
            [max(xd.model_time(as_of, d - dt.timedelta(days=m)), 0.0) for d in setup.report_dates]
        )
        for m in mpors
    }


def _timeline(
    report_t: npt.NDArray[np.float64],
    lag_t: dict[int, npt.NDArray[np.float64]],
    flows: list[tuple[str, Cashflows, dict[str, float]]],
) -> set[float]:
    """Simulation times: report dates, lagged dates after today, fixings up to the last report."""
    times_set = set(report_t.tolist())
    for lt in lag_t.values():
        times_set |= {t for t in lt.tolist() if t > 0}
    for _, cf, _ in flows:
        times_set |= {t for t in cf.fixing_times if 0 < t <= report_t[-1]}
    return times_set


def _factors(setup: ExposureSetup) -> list[Factor]:
    factors: list[Factor] = []
    for name in setup.factor_names:
        kind, key = name.split(":", 1)
        if kind == "EQ":
            eq = setup.equities[key]
            factors.append(Factor(name, fx_vol=eq.volatility, equity_currency=eq.currency))
            continue
        cur = setup.currencies[key]
        factors.append(Factor(name, cur.rates) if kind == "IR" else Factor(name, fx_vol=cur.fx_vol))
    return factors


def _lag_index(
    setup: ExposureSetup,
    times: npt.NDArray[np.float64],
    report_idx: npt.NDArray[np.intp],
    lag_t: dict[int, npt.NDArray[np.float64]],
) -> npt.NDArray[np.int64]:
    """Per netting set and report date: the timeline index its collateral balance is read at."""
    lag_idx = np.empty((len(setup.netting_sets), len(report_idx)), dtype=np.int64)
    for k, ns in enumerate(setup.netting_sets):
        m = ns.csa.mpor_days if ns.csa else 0
        if m:
            lt = lag_t[m]
            # A lag date at or before today: the collateral balance is today's (time 0 is not
            # on the timeline; the first date stands in, documented).
            lag_idx[k] = np.searchsorted(times, np.maximum(lt, times[0]))
        else:
            lag_idx[k] = report_idx
    return lag_idx


def _book(
    setup: ExposureSetup,
    cf: Cashflows,
    sh: dict[str, float],
    model: Model,
    times: npt.NDArray[np.float64],
    evals: npt.NDArray[np.int64],
) -> Book:
    """The compiled book of one scenario (base or a rate shift)."""
    idx = {n: i for i, n in enumerate(setup.factor_names)}
    n_ns = len(setup.netting_sets)
    cbs = {}
    for ccy, cur in setup.currencies.items():
        disc = cur.discount.shifted(sh.get(ccy, 0.0))
        cbs[ccy] = compile_currency(
            cf,
            ccy,
            model,
            disc.discount,
            idx[f"IR:{ccy}"],
            idx.get(f"FX:{ccy}", -1),
            cur.fx_spot,
            n_ns,
            evals,
        )
    base_disc = setup.currencies[setup.base].discount.shifted(sh.get(setup.base, 0.0))
    return Book(
        model,
        setup.base,
        cbs,
        n_ns,
        base_disc.discount(times),
        _options(setup, cf, sh, idx),
    )


def compile_run(setup: ExposureSetup) -> CompiledRun:
    """Compile a setup into the timeline, model and books the simulation runs on."""
    report_t = np.array([xd.model_time(setup.as_of, d) for d in setup.report_dates])
    lag_t = _lag_times(setup)
    shifts: list[tuple[str, dict[str, float]]] = [("base", {})]
    if setup.rate_bump > 0:
        shifts += [(f"rates:{c}", {c: setup.rate_bump}) for c in setup.currencies]
    flows = [(name, _cashflows(setup, sh), sh) for name, sh in shifts]
    times_set = _timeline(report_t, lag_t, flows)
    times = np.array(sorted(times_set))
    model = build_model(_factors(setup), setup.correlation, times, setup.base)
    report_idx = np.searchsorted(times, report_t)
    lag_idx = _lag_index(setup, times, report_idx, lag_t)
    evals = np.unique(np.concatenate([report_idx, lag_idx.ravel()]))
    books: list[Book] = []
    for _, cf, sh in flows:
        # Fixings beyond the last report date never matter: keep only those on the timeline.
        cf.coupons = [c for c in cf.coupons if c.fixing in times_set]
        books.append(_book(setup, cf, sh, model, times, evals))

    return CompiledRun(
        model=model,
        books=tuple(books),
        scenario_names=tuple(n for n, _ in shifts),
        report_idx=report_idx,
        lag_idx=lag_idx,
        report_times=report_t,
        report_p0=setup.currencies[setup.base].discount.discount(report_t),
        maturities=_maturities(setup),
        csas=tuple(ns.csa for ns in setup.netting_sets),
    )
