r"""Single-barrier options under Black–Scholes–Merton: Reiner–Rubinstein closed form (Haug).

Notation (Haug, *The Complete Guide to Option Pricing Formulas*, 2nd ed., §4.17.1): spot
:math:`S`, strike :math:`X`, barrier :math:`H`, rebate :math:`K`, cost of carry
:math:`b = r - q`, :math:`\mu = (b - \sigma^2/2)/\sigma^2`,
:math:`\lambda = \sqrt{\mu^2 + 2r/\sigma^2}`, :math:`s = \sigma\sqrt T` and

.. math::

    x_1 = \tfrac{\ln(S/X)}{s} + (1+\mu)s,\quad x_2 = \tfrac{\ln(S/H)}{s} + (1+\mu)s,\quad
    y_1 = \tfrac{\ln(H^2/(SX))}{s} + (1+\mu)s,\quad y_2 = \tfrac{\ln(H/S)}{s} + (1+\mu)s,\quad
    z = \tfrac{\ln(H/S)}{s} + \lambda s

    A = \phi S e^{(b-r)T} N(\phi x_1) - \phi X e^{-rT} N(\phi x_1 - \phi s), \qquad
    B = \text{the same with } x_2

    C = \phi S e^{(b-r)T} (H/S)^{2(\mu+1)} N(\eta y_1) - \phi X e^{-rT} (H/S)^{2\mu}
        N(\eta y_1 - \eta s), \qquad D = \text{the same with } y_2

    E = K e^{-rT}\left[N(\eta x_2 - \eta s) - (H/S)^{2\mu} N(\eta y_2 - \eta s)\right], \qquad
    F = K\left[(H/S)^{\mu+\lambda} N(\eta z) + (H/S)^{\mu-\lambda} N(\eta z - 2\eta\lambda s)\right]

with :math:`\phi = \pm1` for call/put and :math:`\eta = +1` for down, :math:`-1` for up barriers.
A knock-in's rebate is paid at expiry if the barrier was never touched (term E); a knock-out's
rebate is paid when the barrier is touched (term F). Each of the eight cases is a signed sum of
A…F (table in :data:`_TERMS`). A spot at or beyond the barrier means the barrier is touched
now: a knock-in is then the vanilla option, a knock-out is worth its rebate (paid now).

Discrete monitoring (every :math:`\Delta t`) is approximated by the continuity correction of
Broadie, Glasserman and Kou (1997): the same formula with the barrier moved away from the spot,
:math:`H e^{\pm\beta\sigma\sqrt{\Delta t}}`, :math:`\beta = -\zeta(1/2)/\sqrt{2\pi} \approx
0.5826`. Monte Carlo pricing of discrete barriers simulates the monitoring dates exactly
(:mod:`riskgrid.risk.exotic_mc`).

Elementwise and vectorised; arguments broadcast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from riskgrid.risk import _normal, black_scholes

#: Broadie–Glasserman–Kou constant −ζ(½)/√(2π).
BGK_BETA = 0.5825971579390106

#: (is_call, is_down, is_in, strike_above_barrier) → coefficients of (A, B, C, D, E, F).
_TERMS: dict[tuple[bool, bool, bool, bool], tuple[int, int, int, int, int, int]] = {
    (True, True, True, True): (0, 0, 1, 0, 1, 0),
    (True, True, True, False): (1, -1, 0, 1, 1, 0),
    (True, False, True, True): (1, 0, 0, 0, 1, 0),
    (True, False, True, False): (0, 1, -1, 1, 1, 0),
    (False, True, True, True): (0, 1, -1, 1, 1, 0),
    (False, True, True, False): (1, 0, 0, 0, 1, 0),
    (False, False, True, True): (1, -1, 0, 1, 1, 0),
    (False, False, True, False): (0, 0, 1, 0, 1, 0),
    (True, True, False, True): (1, 0, -1, 0, 0, 1),
    (True, True, False, False): (0, 1, 0, -1, 0, 1),
    (True, False, False, True): (0, 0, 0, 0, 0, 1),
    (True, False, False, False): (1, -1, 1, -1, 0, 1),
    (False, True, False, True): (1, -1, 1, -1, 0, 1),
    (False, True, False, False): (0, 0, 0, 0, 0, 1),
    (False, False, False, True): (0, 1, 0, -1, 0, 1),
    (False, False, False, False): (1, 0, -1, 0, 0, 1),
}


def bgk_barrier(
    barrier: np.ndarray, is_down: np.ndarray | bool, vol: np.ndarray, dt: float
) -> npt.NDArray[np.float64]:
    """Barrier shifted for discrete monitoring every ``dt`` years (away from the spot)."""
    shift = np.exp(BGK_BETA * vol * np.sqrt(dt))
    result: npt.NDArray[np.float64] = np.where(is_down, barrier / shift, barrier * shift)
    return result


def price(
    is_call: np.ndarray | bool,
    is_down: np.ndarray | bool,
    is_in: np.ndarray | bool,
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    barrier: np.ndarray | float,
    rebate: np.ndarray | float,
    t: np.ndarray | float,
    r: np.ndarray | float,
    q: np.ndarray | float,
    vol: np.ndarray | float,
) -> np.ndarray:
    """Continuously monitored barrier option price per unit (see the module formulas)."""
    c, d, i, s, x, h, k, t, r, q, v = np.broadcast_arrays(
        *(
            np.asarray(a)
            for a in (is_call, is_down, is_in, spot, strike, barrier, rebate, t, r, q, vol)
        )
    )
    c, d, i = c.astype(bool), d.astype(bool), i.astype(bool)
    touched = np.where(d, s <= h, s >= h)
    # evaluate the formula at a safe spot where touched (the value is replaced below)
    s_safe = np.where(touched, np.where(d, h * 1.01, h / 1.01), s)
    phi = np.where(c, 1.0, -1.0)
    eta = np.where(d, 1.0, -1.0)
    b = r - q
    sd = v * np.sqrt(t)
    mu = (b - 0.5 * v * v) / (v * v)
    lam = np.sqrt(mu * mu + 2.0 * r / (v * v))
    hs = h / s_safe
    carry = s_safe * np.exp((b - r) * t)
    disc = np.exp(-r * t)
    x1 = np.log(s_safe / x) / sd + (1.0 + mu) * sd
    x2 = np.log(s_safe / h) / sd + (1.0 + mu) * sd
    y1 = np.log(h * h / (s_safe * x)) / sd + (1.0 + mu) * sd
    y2 = np.log(h / s_safe) / sd + (1.0 + mu) * sd
    z = np.log(h / s_safe) / sd + lam * sd
    n = _normal.cdf
    a_ = phi * carry * n(phi * x1) - phi * x * disc * n(phi * x1 - phi * sd)
    b_ = phi * carry * n(phi * x2) - phi * x * disc * n(phi * x2 - phi * sd)
    p2 = hs ** (2.0 * mu)
    c_ = phi * carry * hs ** (2.0 * (mu + 1.0)) * n(eta * y1) - phi * x * disc * p2 * n(
        eta * y1 - eta * sd
    )
    d_ = phi * carry * hs ** (2.0 * (mu + 1.0)) * n(eta * y2) - phi * x * disc * p2 * n(
        eta * y2 - eta * sd
    )
    e_ = k * disc * (n(eta * x2 - eta * sd) - p2 * n(eta * y2 - eta * sd))
    f_ = k * (hs ** (mu + lam) * n(eta * z) + hs ** (mu - lam) * n(eta * z - 2.0 * eta * lam * sd))
    terms = np.stack([a_, b_, c_, d_, e_, f_])
    coef = np.zeros((6, *c.shape))
    above = x > h
    for key, w in _TERMS.items():
        m = (c == key[0]) & (d == key[1]) & (i == key[2]) & (above == key[3])
        coef[:, m] = np.array(w, dtype=np.float64)[:, None]
    value = (coef * terms).sum(axis=0)
    vanilla = black_scholes.price(c, s, x, t, r, q, v)
    return np.where(touched, np.where(i, vanilla, k), value)
