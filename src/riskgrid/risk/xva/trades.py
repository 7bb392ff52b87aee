"""Trades as the model sees them: weighted zero bonds per currency, and coupons fixed on a path.

Every trade here is linear in zero bonds of its currencies, so a netting set's value at a
simulated state is a sum of ``weight · P(t, T | x)``:

* a fixed coupon ``N·K·τ`` paid at ``T`` is one bond term, alive while ``t < T``;
* a floating coupon on ``[S, E]`` whose fixing is still ahead, under a deterministic basis
  ``β(T) = P_fwd(0,T)/P_disc(0,T)`` between the forwarding and discount curves, is worth
  ``N·(b·P(t,S) − P(t,E))`` with ``b = β(S)/β(E)``: two bond terms alive while ``t < S``;
* once fixed (``S ≤ t < E``) it pays ``N·(b/P(S,E | x_S) − 1)`` at ``E``: a bond term whose
  weight depends on the path's state at ``S`` (a *fixed coupon*). The fixing is taken at the
  accrual start (no fixing lag); a coupon fixed before the valuation date uses its given fixing.
* an FX forward buying ``N`` of CCY1 for ``N·K`` of CCY2 at ``T`` is ``+N`` bonds in CCY1 and
  ``−N·K`` bonds in CCY2, both alive while ``t < T``.

European FX and equity options are not linear in bonds: they are kept as option terms and
valued by Black's formula on each simulated state (:mod:`riskgrid.risk.xva.valuation`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from riskgrid.risk.xva.curves import ZeroCurve
from riskgrid.risk.xva.dates import DayCount, model_time, schedule, year_fraction


@dataclass(frozen=True)
class Swap:
    id: str
    currency: str
    notional: float
    fixed_rate: float
    pay_fixed: bool
    start: dt.date
    end: dt.date
    fixed_tenor: str = "1Y"
    float_tenor: str = "6M"
    fixed_day_count: DayCount = "30/360"
    float_day_count: DayCount = "ACT/360"
    index: str = ""  # forwarding curve name; "" = the currency's discount curve
    spread: float = 0.0
    current_fixing: float | None = None  # of the period running at the valuation date


@dataclass(frozen=True)
class FxForward:
    id: str
    bought: str  # CCY1: received at maturity
    sold: str  # CCY2: paid at maturity
    notional: float  # in CCY1, > 0
    strike: float  # CCY2 per CCY1
    maturity: dt.date


@dataclass
class BondTerm:
    currency: str
    weight: float  # amount paid at ``maturity`` (currency units)
    maturity: float  # model time of the payment
    alive_until: float  # counted while t < alive_until
    netting_set: int


@dataclass
class FixedCoupon:
    currency: str
    notional: float  # signed
    basis_ratio: float  # b = β(S)/β(E)
    fixing: float  # model time S of the fixing
    payment: float  # model time E
    netting_set: int


@dataclass
class Cashflows:
    bonds: list[BondTerm] = field(default_factory=list)
    coupons: list[FixedCoupon] = field(default_factory=list)
    fixing_times: set[float] = field(default_factory=set)
    options: list[OptionTerm] = field(default_factory=list)
    last_payment: float = 0.0


def _basis(disc: ZeroCurve, fwd: ZeroCurve, dates: list[dt.date]) -> list[float]:
    pd, pf = disc.discount_dates(dates), fwd.discount_dates(dates)
    return [float(f / d) for f, d in zip(pf, pd, strict=True)]


def add_swap(
    cf: Cashflows,
    s: Swap,
    ns: int,
    as_of: dt.date,
    discount: ZeroCurve,
    forwarding: ZeroCurve,
) -> None:
    """Append the swap's terms; raises ``ValueError`` for a running period without fixing."""

    def t(d: dt.date) -> float:
        return model_time(as_of, d)

    fixed_sign = -1.0 if s.pay_fixed else 1.0
    fixed = schedule(s.start, s.end, s.fixed_tenor)
    for d0, d1 in itertools.pairwise(fixed):
        if d1 <= as_of:
            continue
        tau = year_fraction(d0, d1, s.fixed_day_count)
        cf.bonds.append(
            BondTerm(s.currency, fixed_sign * s.notional * s.fixed_rate * tau, t(d1), t(d1), ns)
        )
    float_sign = -fixed_sign
    flt = schedule(s.start, s.end, s.float_tenor)
    beta = _basis(discount, forwarding, flt)
    for k, (d0, d1) in enumerate(itertools.pairwise(flt)):
        if d1 <= as_of:
            continue
        tau = year_fraction(d0, d1, s.float_day_count)
        amount = float_sign * s.notional
        if s.spread:
            cf.bonds.append(BondTerm(s.currency, amount * s.spread * tau, t(d1), t(d1), ns))
        if d0 <= as_of:
            if s.current_fixing is None:
                raise ValueError(
                    f"period {d0.isoformat()}–{d1.isoformat()} has fixed before the valuation "
                    "date: give currentFixing"
                )
            cf.bonds.append(BondTerm(s.currency, amount * s.current_fixing * tau, t(d1), t(d1), ns))
            continue
        b = beta[k] / beta[k + 1]
        cf.bonds.append(BondTerm(s.currency, amount * b, t(d0), t(d0), ns))
        cf.bonds.append(BondTerm(s.currency, -amount, t(d1), t(d0), ns))
        cf.coupons.append(FixedCoupon(s.currency, amount, b, t(d0), t(d1), ns))
        cf.fixing_times.add(t(d0))
    cf.last_payment = max(cf.last_payment, t(fixed[-1]), t(flt[-1]))


def add_fx_forward(cf: Cashflows, f: FxForward, ns: int, as_of: dt.date) -> None:
    if f.maturity <= as_of:
        return
    tm = model_time(as_of, f.maturity)
    cf.bonds.append(BondTerm(f.bought, f.notional, tm, tm, ns))
    cf.bonds.append(BondTerm(f.sold, -f.notional * f.strike, tm, tm, ns))
    cf.last_payment = max(cf.last_payment, tm)


@dataclass(frozen=True)
class FxOption:
    """European option on ``notional`` units of ``underlying`` paid in ``against``; ``strike``
    in ``against`` per unit; ``notional < 0`` is a short position. Cash-settled at expiry."""

    id: str
    underlying: str
    against: str
    notional: float
    strike: float
    call: bool
    expiry: dt.date
    volatility: float  # Black volatility used to value it on each simulated state


@dataclass(frozen=True)
class EquityOption:
    """European option on ``quantity`` shares (negative: short) of an equity factor."""

    id: str
    underlying: str
    quantity: float
    strike: float
    call: bool
    expiry: dt.date
    volatility: float


@dataclass
class OptionTerm:
    """An option valued by Black's formula on the state (see valuation.py)."""

    kind: str  # "fx" or "equity"
    underlying: str  # FX: currency of the underlying; equity: the equity's name
    currency: str  # payment currency (FX: ``against``; equity: the equity's currency)
    amount: float  # signed notional / quantity
    strike: float
    call: bool
    expiry: float  # model time
    volatility: float
    netting_set: int


def add_option(
    cf: Cashflows, o: FxOption | EquityOption, ns: int, as_of: dt.date, equity_currency: str = ""
) -> None:
    if o.expiry <= as_of:
        return
    te = model_time(as_of, o.expiry)
    if isinstance(o, FxOption):
        term = OptionTerm(
            "fx", o.underlying, o.against, o.notional, o.strike, o.call, te, o.volatility, ns
        )
    else:
        term = OptionTerm(
            "equity",
            o.underlying,
            equity_currency,
            o.quantity,
            o.strike,
            o.call,
            te,
            o.volatility,
            ns,
        )
    cf.options.append(term)
    cf.last_payment = max(cf.last_payment, te)


Trade = Swap | FxForward | FxOption | EquityOption
