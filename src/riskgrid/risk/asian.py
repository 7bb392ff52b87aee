r"""Geometric-average Asian options in closed form (Kemna–Vorst), discrete and continuous.

Discrete fixings at future times :math:`t_1 \le \dots \le t_m` plus :math:`N - m` fixings
already past (their log-sum :math:`L_p` known): under BSM,
:math:`\ln G = \frac1N\left(L_p + \sum_j \ln S_{t_j}\right)` is normal with

.. math::

    M = \frac1N\Big(L_p + \sum_j [\ln S + (b - \tfrac12\sigma^2) t_j]\Big), \qquad
    V = \frac{\sigma^2}{N^2} \sum_{j,k} \min(t_j, t_k)

so an average-price call is :math:`e^{-rT}[e^{M + V/2} N(d_1) - K N(d_2)]` with
:math:`d_1 = (M - \ln K + V)/\sqrt V`, :math:`d_2 = d_1 - \sqrt V` (put by parity of the same
lognormal). With every fixing past the payoff is known and only discounted. Continuous
averaging over :math:`[0, T]`: :math:`M = \ln S + \tfrac12(b - \tfrac12\sigma^2)T`,
:math:`V = \sigma^2 T/3`. These are the control variates of the arithmetic Monte Carlo.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from riskgrid.risk import _normal


def lognormal_option(
    is_call: np.ndarray | bool,
    mean: np.ndarray,
    var: np.ndarray,
    strike: np.ndarray | float,
    df: np.ndarray,
) -> npt.NDArray[np.float64]:
    """:math:`df \\cdot E[(\\pm(e^X - K))^+]` for :math:`X \\sim N(mean, var)`."""
    mean, var, strike, df = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (mean, var, strike, df))
    )
    sd = np.sqrt(np.maximum(var, 0.0))
    fwd = np.exp(mean + 0.5 * var)
    safe = np.where(sd > 0, sd, 1.0)
    d1 = (mean - np.log(strike) + var) / safe
    d2 = d1 - sd
    call = fwd * _normal.cdf(d1) - strike * _normal.cdf(d2)
    put = strike * _normal.cdf(-d2) - fwd * _normal.cdf(-d1)
    intrinsic = np.where(is_call, np.maximum(fwd - strike, 0.0), np.maximum(strike - fwd, 0.0))
    result: npt.NDArray[np.float64] = df * np.where(sd > 0, np.where(is_call, call, put), intrinsic)
    return result


def geometric_moments(
    spot: np.ndarray,
    times: np.ndarray,
    n_total: int,
    past_log_sum: float,
    b: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(M, V) of the log geometric average (module formulas); ``times`` the future fixings."""
    spot, b, vol = np.broadcast_arrays(*(np.asarray(a, float) for a in (spot, b, vol)))
    t = np.asarray(times, dtype=np.float64)
    s_t = t.sum()
    s_min = np.minimum(t[:, None], t[None, :]).sum() if t.size else 0.0
    mean = (past_log_sum + t.size * np.log(spot) + (b - 0.5 * vol * vol) * s_t) / n_total
    var = vol * vol * s_min / (n_total * n_total)
    return mean, var


def geometric_price(
    is_call: bool,
    spot: np.ndarray,
    strike: float,
    times: np.ndarray,
    expiry: float,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
    *,
    n_total: int | None = None,
    past_log_sum: float = 0.0,
) -> np.ndarray:
    """Discrete geometric average-price option (future fixings ``times``, ``n_total`` in all)."""
    n = len(times) if n_total is None else n_total
    mean, var = geometric_moments(spot, times, n, past_log_sum, np.asarray(r) - q, vol)
    return lognormal_option(is_call, mean, var, strike, np.exp(-np.asarray(r) * expiry))


def geometric_continuous_price(
    is_call: bool,
    spot: np.ndarray | float,
    strike: float,
    t: float,
    r: np.ndarray | float,
    q: np.ndarray | float,
    vol: np.ndarray | float,
) -> np.ndarray:
    """Continuously averaged geometric average-price option (Kemna–Vorst)."""
    b = np.asarray(r) - q
    v = np.asarray(vol, dtype=np.float64)
    mean = np.log(spot) + 0.5 * (b - 0.5 * v * v) * t
    return lognormal_option(is_call, mean, v * v * t / 3.0, strike, np.exp(-np.asarray(r) * t))
