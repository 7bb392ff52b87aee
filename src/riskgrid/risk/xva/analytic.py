"""Closed forms the exposure engine is validated against (not used by the simulation).

* European swaption under Hull–White (Jamshidian): the payer swaption with expiry ``T0`` pays
  ``max(V_swap(T0), 0)``; with the swap written as ``b₀ − Σ c_k P(T0, T_k)`` (floating coupons
  under a deterministic basis reduce to bonds, see :mod:`riskgrid.risk.xva.trades`) and
  ``Σ c_k P(T0, T_k | x)`` monotone in the state, the option is ``Σ c_k`` puts on zero bonds
  struck at ``X_k = P(T0, T_k | x*)`` where ``Σ c_k X_k = b₀``. Under the ``T0``-forward measure
  ``log P(T0, T_k)`` is normal with variance ``σ_k² = (H(T_k) − H(T0))² ζ(T0)``, so each put is
  Black's formula on the bond forward ``P(0,T_k)/P(0,T0)``.
* The discounted expected positive exposure of an FX forward (buy ``N`` foreign at ``K``) with
  deterministic rates: ``N · P_d(0,T) · (F Φ(d₁) − K Φ(d₂))`` with ``F = X₀ P_f(0,T)/P_d(0,T)``
  and total variance ``σ² t``: a call on the forward, struck at ``K``, expiring at ``t``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from riskgrid.risk.xva.model import HullWhite


def bond_put(p0_expiry: float, p0_mat: float, strike: float, sigma: float) -> float:
    """Put on ``P(T0, T)`` struck at ``strike``, paid at ``T0``, valued today."""
    fwd = p0_mat / p0_expiry
    if sigma <= 0:
        return p0_expiry * max(strike - fwd, 0.0)
    d1 = (np.log(fwd / strike) + 0.5 * sigma * sigma) / sigma
    d2 = d1 - sigma
    return float(p0_expiry * (strike * ndtr(-d2) - fwd * ndtr(-d1)))


def payer_swaption(
    hw: HullWhite,
    t0: float,
    p0_t0: float,
    b0: float,
    coeffs: np.ndarray,
    maturities: np.ndarray,
    p0_mats: np.ndarray,
) -> float:
    """Payer swaption on ``b0 − Σ c_k P(T0, T_k)`` (all today's values; see module doc)."""
    H0 = float(hw.H(np.array(t0)))
    Hk = hw.H(maturities)
    z0 = float(hw.zeta(np.array(t0)))
    fwd = p0_mats / p0_t0

    def bonds(x: float) -> np.ndarray:
        return fwd * np.exp(-(Hk - H0) * x - 0.5 * (Hk**2 - H0**2) * z0)

    def gap(x: float) -> float:
        return float(coeffs @ bonds(x) - b0)

    span = 10.0 * max(np.sqrt(z0), 1e-8)
    lo, hi = -span, span
    while gap(lo) * gap(hi) > 0 and span < 1e3:
        span *= 4
        lo, hi = -span, span
    x_star = brentq(gap, lo, hi, xtol=1e-14)
    strikes = bonds(x_star)
    sig = (Hk - H0) * np.sqrt(z0)
    return float(
        sum(
            c * bond_put(p0_t0, pm, k, s)
            for c, pm, k, s in zip(coeffs, p0_mats, strikes, sig, strict=True)
        )
    )


def fx_forward_epe(
    notional: float, strike: float, forward: float, p0_d_maturity: float, vol: float, t: float
) -> float:
    """Discounted EPE at ``t`` of buying ``notional`` foreign at ``strike``; deterministic rates."""
    if t <= 0 or vol <= 0:
        return notional * p0_d_maturity * max(forward - strike, 0.0)
    s = vol * np.sqrt(t)
    d1 = (np.log(forward / strike) + 0.5 * s * s) / s
    return float(notional * p0_d_maturity * (forward * ndtr(d1) - strike * ndtr(d1 - s)))
