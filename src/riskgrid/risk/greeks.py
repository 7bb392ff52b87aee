r"""Bump-and-revalue sensitivities per position, in base currency.

Each position is revalued in seven states of its own market (base; spot up/down; vol up/down;
domestic curve up/down) with the same kernel as the P&L (:func:`revaluation.values`):

.. math::

    \Delta = \frac{V(S(1+h)) - V(S(1-h))}{2hS}, \qquad
    \Gamma = \frac{V(S(1+h)) - 2V(S) + V(S(1-h))}{(hS)^2}

    \text{vega} = \frac{V(\sigma + 0.01) - V(\sigma - 0.01)}{2}, \qquad
    \rho = \frac{V(z + 0.0001) - V(z - 0.0001)}{2}

with :math:`h` = :data:`SPOT_BUMP` (relative), vega per one vol point (0.01 absolute on the vol
to expiry; for vols under 2% the bump is half the vol, so that σ − bump stays positive, and the
quotient is rescaled to one vol point) and rho per one basis point of a parallel shift of the
payoff currency's zero curve.
Delta and gamma are with respect to the position's underlying spot (equity price or FX rate) in
its own units; the FX conversion to base is held fixed. ``delta_cash`` = Δ·S (base currency per
100% move) and ``gamma_cash`` = Γ·S²/100 (change in delta_cash for a 1% move) are additive across
underlyings. Positions without the risk factor get 0 (e.g. delta of a zero-coupon bond).
"""

from __future__ import annotations

import numpy as np

from riskgrid.risk import portfolio as pf
from riskgrid.risk import revaluation
from riskgrid.risk.market import MarketData

SPOT_BUMP = 1e-3
VOL_BUMP = 0.01
RATE_BUMP = 1e-4
NAMES: tuple[str, ...] = ("delta", "gamma", "vega", "rho", "delta_cash", "gamma_cash")


def greeks_block(
    p: pf.Portfolio, market: MarketData, rows: slice = slice(None)
) -> dict[str, np.ndarray]:
    """Delta, gamma, vega, rho (and cash delta/gamma) of positions ``rows``: each (n_rows,)."""
    b = revaluation.base_states(p, market, rows)
    ones = np.ones((1, 7))
    spot_mult = np.array([[1.0, 1.0 + SPOT_BUMP, 1.0 - SPOT_BUMP, 1.0, 1.0, 1.0, 1.0]])
    # vol bump: one vol point, or half the vol where that is smaller (keeps σ − b > 0)
    vb = np.minimum(VOL_BUMP, 0.5 * b.vol[:, 0])
    vol_add = vb[:, None] * np.array([[0.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0]])
    rate_add = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, RATE_BUMP, -RATE_BUMP]])
    st = revaluation.States(
        spot=b.spot * spot_mult,
        vol=b.vol + vol_add,
        r_dom=b.r_dom + rate_add,
        r_for=b.r_for * ones,
        conv=b.conv * ones,
    )
    v = revaluation.values(p, rows, st)
    s = b.spot[:, 0]
    has_spot = p.spot_idx[rows] >= 0
    h = np.where(has_spot, SPOT_BUMP * s, 1.0)
    delta = np.where(has_spot, (v[:, 1] - v[:, 2]) / (2.0 * h), 0.0)
    gamma = np.where(has_spot, (v[:, 1] - 2.0 * v[:, 0] + v[:, 2]) / (h * h), 0.0)
    is_opt = np.isin(p.kind[rows], pf.OPTION_KINDS)
    vega = np.where(is_opt, (v[:, 3] - v[:, 4]) / (2.0 * np.where(is_opt, vb, 1.0)), 0.0)
    vega *= VOL_BUMP  # per vol point
    rho = (v[:, 5] - v[:, 6]) / 2.0
    return {
        "delta": delta,
        "gamma": gamma,
        "vega": vega,
        "rho": rho,
        "delta_cash": delta * s,
        "gamma_cash": gamma * s * s / 100.0,
    }
