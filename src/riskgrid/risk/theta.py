r"""Theta: the change in value from rolling the valuation date forward, per position.

With a horizon of :math:`h` calendar days (ACT/365F, :math:`\tau = h/365` years), each
position is revalued as of the valuation date plus :math:`h` and

.. math::

    \theta_i = V_i(t_0 + \tau) - V_i(t_0) \qquad \text{(base currency, positive = gain)}

is its theta over the horizon — the P&L of the passage of time alone.

What "the market as of :math:`t_0 + \tau`" is (the roll convention)
    **Constant in time to maturity** (the "sticky tenor" or roll-down convention): spots and
    FX rates are unchanged; each zero curve keeps its shape as a function of time to maturity,
    so a cash flow at :math:`T` is discounted with :math:`z(T-\tau)` read off today's curve;
    each vol surface keeps its shape in time to expiry and moneyness, so an option sees
    :math:`\sigma(T-\tau, K)`; dividend yields are unchanged. Options therefore age by
    :math:`\tau`, and curves roll down.

    Why not roll *forward* (the future curve = today's forward curve, spots drifting to
    forwards)? That convention makes the funded carry of every position zero by construction
    and moves the spot, so its "theta" mixes time decay with a forward-drift P&L that the
    scenarios already price; it is a different P&L-explain line (carry). The constant
    convention is the one in which BSM's :math:`\Theta = \partial V/\partial t` (spot, rates
    and vol held) is the limit :math:`\theta/\tau` as :math:`\tau \to 0` on flat curves, which
    is how it is validated; on sloped curves it also carries each position's roll-down.

Positions that expire or mature within the horizon (:math:`T \le \tau`) are worth their
value at expiry, at today's spot: an option its intrinsic value :math:`\max(\phi(S-K), 0)`,
a forward :math:`S-K`, a zero-coupon bond 1 — i.e. the cash settled, not discounted back
(no interest on cash over the horizon).

Exotic positions roll their own dates too (fixings inside the horizon fix at today's spot,
monitoring dates inside it are dropped); one expiring inside the horizon is worth its payoff with
the spot held (:func:`riskgrid.risk.exotics.value_at_expiry`).

Everything is elementwise per position, so a block equals the same slice of the full vector.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from riskgrid.risk import exotics, revaluation
from riskgrid.risk import portfolio as pf
from riskgrid.risk.market import MarketData

#: Largest horizon a job may ask for (calendar days).
MAX_HORIZON_DAYS = 365
#: How theta rolls the market (echoed in results).
ROLL_CONVENTION = "constant-in-time-to-maturity"


def rolled(p: pf.Portfolio, days: float, market: MarketData | None = None) -> pf.Portfolio:
    """The portfolio as of ``days`` calendar days later: every ``t`` shortened by days/365.

    Exotic positions' own dates (fixings, monitoring, expiry) roll too
    (:func:`riskgrid.risk.exotics.rolled`; needs ``market`` for today's spots).
    """
    later = dataclasses.replace(p, t=p.t - days / 365.0)
    if p.exotic and market is not None:
        spots = market.spots[np.maximum(p.spot_idx, 0)]
        ex = {i: exotics.rolled(e, days, float(spots[i])) for i, e in p.exotic.items()}
        # expired inside the horizon: valued at expiry by the caller, not by an exotic pricer
        ex = {i: e for i, e in ex.items() if e.t > 0.0}
        later = dataclasses.replace(later, exotic=ex)
    return later


def _value_at_expiry(
    p: pf.Portfolio, rows: slice, st: revaluation.States
) -> npt.NDArray[np.float64]:
    """Per-position value of a position that has expired/matured, base currency: (n_rows,)."""
    kind = p.kind[rows]
    s, k = st.spot[:, 0], p.strike[rows]
    phi = np.where(p.is_call[rows], 1.0, -1.0)
    local = np.select(
        [np.isin(kind, pf.OPTION_KINDS), kind == pf.FX_FORWARD, kind == pf.SPOT],
        [np.maximum(phi * (s - k), 0.0), s - k, s],
        default=1.0,  # zcb: the unit paid
    )
    result: npt.NDArray[np.float64] = p.quantity[rows] * local * st.conv[:, 0]
    return result


def theta_block(
    p: pf.Portfolio, market: MarketData, days: float, rows: slice = slice(None)
) -> npt.NDArray[np.float64]:
    """Theta over ``days`` calendar days of positions ``rows``: (n_rows,), base currency.

    See the module notes for the roll convention and expiries inside the horizon.
    """
    if not 0 < days <= MAX_HORIZON_DAYS:
        raise ValueError(f"theta horizon must be in (0, {MAX_HORIZON_DAYS}] days, got {days}")
    today = revaluation.values(p, rows, revaluation.base_states(p, market, rows))[:, 0]
    later = rolled(p, days, market)
    expired = later.t[rows] <= 0.0
    if expired.any():  # price live ones only: a dummy time keeps the kernels finite
        later = dataclasses.replace(later, t=np.where(later.t <= 0.0, 1.0, later.t))
    st = revaluation.base_states(later, market, rows)
    value = revaluation.values(later, rows, st)[:, 0]
    if expired.any():
        value = np.where(expired, _value_at_expiry(later, rows, st), value)
        start = rows.indices(p.n)[0]
        for i in p.exotic_rows(rows):  # exotics expired inside the horizon: their own payoff
            j = i - start
            if expired[j]:
                unit = exotics.value_at_expiry(p.exotic[i], float(st.spot[j, 0]))
                value[j] = p.quantity[i] * unit * st.conv[j, 0]
    result: npt.NDArray[np.float64] = value - today
    return result
