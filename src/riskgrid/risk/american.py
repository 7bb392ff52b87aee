r"""American options under BSM/Garman–Kohlhagen: PDE (reference), Barone-Adesi–Whaley, CRR.

Equity (dividend yield :math:`q`) and FX (:math:`q` = foreign rate) alike.

PDE (:func:`pde`) — the reference method. In :math:`x = \ln S` and time to expiry
:math:`\tau`, :math:`V_\tau = \tfrac12\sigma^2 V_{xx} + (r - q - \tfrac12\sigma^2)V_x - rV`,
on a uniform grid of :math:`2M+1` nodes spanning :math:`\ln S_0 \pm w\sigma\sqrt T`
(:math:`w` = :data:`WIDTH_SD`), so today's spot is a node and no interpolation is needed;
central differences in space; Crank–Nicolson in time after a **Rannacher start** (the first
step is replaced by four implicit-Euler quarter steps, which damps the payoff kink's
oscillations); early exercise by projection :math:`V \leftarrow \max(V, \text{payoff})` after
every step; Dirichlet boundaries at the intrinsic value. The tridiagonal systems of all
scenarios of a position are solved as one block-diagonal system (LAPACK ``gttrf`` once per
scheme, ``gttrs`` each step); the blocks do not couple, so each scenario's value is the same
whatever other scenarios are solved with it.

Barone-Adesi–Whaley (1987) (:func:`baw`) — quadratic approximation of the early-exercise
premium; the critical price solves the BAW boundary equation by Newton's method (Haug §3.3).

Cox–Ross–Rubinstein binomial tree (:func:`crr`) — for the textbook validation cases only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from riskgrid.risk import _normal, black_scholes

#: Grid half-width in standard deviations of :math:`\ln S_T`.
WIDTH_SD = 6.0


def _bcast(*args: object) -> list[np.ndarray]:
    return list(np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args)))


def baw(
    is_call: np.ndarray | bool,
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    t: np.ndarray | float,
    r: np.ndarray | float,
    q: np.ndarray | float,
    vol: np.ndarray | float,
    *,
    iterations: int = 60,
) -> np.ndarray:
    r"""Barone-Adesi–Whaley American price per unit (elementwise).

    With :math:`b = r - q`, :math:`N = 2b/\sigma^2`, :math:`M = 2r/\sigma^2`,
    :math:`K = 1 - e^{-rT}`: a call with :math:`b \ge r` is never exercised early (European);
    otherwise :math:`C = c + A_2 (S/S^*)^{q_2}` for :math:`S < S^*` else :math:`S - X`, where
    :math:`q_2 = \tfrac12[-(N-1) + \sqrt{(N-1)^2 + 4M/K}]` and
    :math:`A_2 = \tfrac{S^*}{q_2}[1 - e^{(b-r)T}N(d_1(S^*))]`; puts symmetric with :math:`q_1`.
    """
    with np.errstate(all="ignore"):  # elements where early exercise never pays are replaced
        return _baw(is_call, spot, strike, t, r, q, vol, iterations)


def _baw(
    is_call: object,
    spot: object,
    strike: object,
    t: object,
    r: object,
    q: object,
    vol: object,
    iterations: int,
) -> np.ndarray:
    c, s, x, t, r, q, v = _bcast(is_call, spot, strike, t, r, q, vol)
    c = c.astype(bool)
    b = r - q
    sd = v * np.sqrt(t)
    nn = 2.0 * b / (v * v)
    mm = 2.0 * r / (v * v)
    kk = np.where(r > 1e-10, -np.expm1(-r * t), 1.0)  # else: replaced by the European
    carry = np.exp((b - r) * t)
    disc_r = np.sqrt((nn - 1.0) ** 2 + 4.0 * mm / kk)
    qc = 0.5 * (-(nn - 1.0) + disc_r)
    qp = 0.5 * (-(nn - 1.0) - disc_r)
    q_inf_c = 0.5 * (-(nn - 1.0) + np.sqrt((nn - 1.0) ** 2 + 4.0 * mm))
    q_inf_p = 0.5 * (-(nn - 1.0) - np.sqrt((nn - 1.0) ** 2 + 4.0 * mm))
    s_inf_c = x / (1.0 - 1.0 / q_inf_c)
    s_inf_p = x / (1.0 - 1.0 / q_inf_p)
    seed_c = x + (s_inf_c - x) * (1.0 - np.exp(-(b * t + 2.0 * sd) * x / (s_inf_c - x)))
    seed_p = s_inf_p + (x - s_inf_p) * np.exp((b * t - 2.0 * sd) * x / (x - s_inf_p))
    crit = np.where(c, seed_c, seed_p)
    crit = np.where(np.isfinite(crit) & (crit > 0), crit, x)
    qi = np.where(c, qc, qp)
    phi = np.where(c, 1.0, -1.0)
    for _ in range(iterations):
        d1 = (np.log(crit / x) + (b + 0.5 * v * v) * t) / sd
        euro = black_scholes.price(c, crit, x, t, r, q, v)
        nd1 = _normal.cdf(phi * d1)
        rhs = euro + phi * (1.0 - carry * nd1) * crit / qi
        # Newton on f(S) = φ(S − X) − rhs(S)
        slope = phi * carry * nd1 * (1.0 - 1.0 / qi) + (phi - carry * _normal.pdf(d1) / sd) / qi
        f = phi * (crit - x) - rhs
        fprime = phi - slope
        step = f / fprime
        crit = np.maximum(crit - step, 1e-8 * x)
    d1 = (np.log(crit / x) + (b + 0.5 * v * v) * t) / sd
    a = phi * crit / qi * (1.0 - carry * _normal.cdf(phi * d1))
    euro = black_scholes.price(c, s, x, t, r, q, v)
    early = np.where(c, s >= crit, s <= crit)
    value = np.where(early, phi * (s - x), euro + a * (s / crit) ** qi)
    # no early exercise of a call when b ≥ r (no yield), nor of a put when r ≤ 0; below
    # r = 1e-10 the put's premium is < 1e-10·X and BAW's quotients underflow: European too
    never = np.where(c, b >= r, r <= 1e-10)
    return np.where(never, euro, value)


def crr(
    is_call: bool, spot: float, strike: float, t: float, r: float, q: float, vol: float, steps: int
) -> float:
    """Cox–Ross–Rubinstein binomial American price (validation only)."""
    dt = t / steps
    u = np.exp(vol * np.sqrt(dt))
    p = (np.exp((r - q) * dt) - 1.0 / u) / (u - 1.0 / u)
    disc = np.exp(-r * dt)
    s = spot * u ** (2.0 * np.arange(steps + 1) - steps)
    payoff = (s - strike) if is_call else (strike - s)
    v = np.maximum(payoff, 0.0)
    for _ in range(steps):
        s = s[1:] / u
        v = disc * (p * v[1:] + (1.0 - p) * v[:-1])
        v = np.maximum(v, (s - strike) if is_call else (strike - s))
    return float(v[0])


def pde(
    is_call: bool,
    spot: np.ndarray,
    strike: float,
    t: float,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
    *,
    space_nodes: int = 401,
    time_steps: int = 400,
) -> npt.NDArray[np.float64]:
    """American price per unit for each element of the 1-D arrays ``spot, r, q, vol``.

    ``space_nodes`` (odd) nodes and ``time_steps`` steps; see the module notes.
    """
    from scipy.linalg import lapack  # heavy import, only when a PDE is priced

    s0, r, q, v = _bcast(spot, r, q, vol)
    s0, r, q, v = s0.ravel(), r.ravel(), q.ravel(), v.ravel()
    n_el = s0.size
    m = space_nodes // 2
    j = np.arange(-m, m + 1, dtype=np.float64)
    dx = WIDTH_SD * v * np.sqrt(t) / m  # (n_el,)
    x = np.log(s0)[:, None] + j[None, :] * dx[:, None]
    s = np.exp(x)
    payoff = np.maximum((s - strike) if is_call else (strike - s), 0.0)
    # L = a D2 + c D1 − r on interior nodes: sub/diag/super coefficients per element
    a = 0.5 * v * v / (dx * dx)
    c = (r - q - 0.5 * v * v) / (2.0 * dx)
    lo, di, up = a - c, -2.0 * a - r, a + c
    n_in = 2 * m - 1

    def factor(theta_dt: float) -> tuple[np.ndarray, ...]:
        sub = np.repeat((-theta_dt * lo)[:, None], n_in, axis=1)
        sup = np.repeat((-theta_dt * up)[:, None], n_in, axis=1)
        sub[:, 0] = 0.0  # boundary couplings go to the right-hand side, blocks stay separate
        sup[:, -1] = 0.0
        diag = np.repeat((1.0 - theta_dt * di)[:, None], n_in, axis=1)
        dl, d, du, du2, ipiv, info = lapack.dgttrf(sub.ravel()[1:], diag.ravel(), sup.ravel()[:-1])
        if info != 0:
            raise ArithmeticError(f"PDE matrix is singular (LAPACK info {info})")
        return dl, d, du, du2, ipiv

    def apply_l(vv: np.ndarray) -> npt.NDArray[np.float64]:
        result: npt.NDArray[np.float64] = (
            lo[:, None] * vv[:, :-2] + di[:, None] * vv[:, 1:-1] + up[:, None] * vv[:, 2:]
        )
        return result

    bound_lo, bound_hi = payoff[:, 0], payoff[:, -1]
    val = payoff.copy()
    dt = t / time_steps
    schemes = [(dt / 4.0, 1.0)] * 4 + [(dt, 0.5)] * (time_steps - 1)
    cache: dict[tuple[float, float], tuple[np.ndarray, ...]] = {}
    for step_dt, theta in schemes:
        key = (step_dt, theta)
        if key not in cache:
            cache[key] = factor(theta * step_dt)
        lu = cache[key]
        rhs = val[:, 1:-1] + (1.0 - theta) * step_dt * apply_l(val)
        rhs[:, 0] += theta * step_dt * lo * bound_lo
        rhs[:, -1] += theta * step_dt * up * bound_hi
        sol, info = lapack.dgttrs(*lu, rhs.ravel())
        if info != 0:
            raise ArithmeticError(f"PDE solve failed (LAPACK info {info})")
        val[:, 1:-1] = sol.reshape(n_el, n_in)
        val[:, 0], val[:, -1] = bound_lo, bound_hi
        np.maximum(val, payoff, out=val)
    result: npt.NDArray[np.float64] = val[:, m]
    return result
