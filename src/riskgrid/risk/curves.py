r"""Pillar interpolation for zero curves and volatility term structures.

Term structures are stored as padded 2-D arrays, one row per curve: ``times[c, :count[c]]`` are
the pillar times in years (strictly increasing) and the rest of the row is ``+inf``. Lookups
for many (curve, time) pairs at once return pillar indices and weights, so that a scenario that
shifts the pillar values can reuse them: interpolation is linear in the pillar values.

Zero curves
    Continuously compounded zero rates :math:`z_j` at pillar times :math:`t_j`, linear in
    :math:`z` between pillars, flat beyond the first and last pillar:

    .. math::

        z(t) = (1-w)\,z_j + w\,z_{j+1}, \quad w = \frac{t - t_j}{t_{j+1} - t_j},
        \qquad D(t) = e^{-z(t)\,t}

    Times are ACT/365F year fractions from the valuation date.

Volatility term structures
    Black volatilities :math:`\sigma_j` at pillars, linear in total variance
    :math:`v_j = \sigma_j^2 t_j` between pillars, flat volatility outside:

    .. math::

        \sigma(t) = \sqrt{\frac{(1-w)\,\sigma_j^2 t_j + w\,\sigma_{j+1}^2 t_{j+1}}{t}}

    (the same as QuantLib's ``BlackVarianceCurve`` with linear interpolation).
"""

from __future__ import annotations

import numpy as np


def pillar_weights(
    times: np.ndarray, counts: np.ndarray, curve: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolation indices and weights for each ``(curve[i], t[i])``.

    Parameters
    ----------
    times : (n_curves, n_pillars) padded pillar times.
    counts : (n_curves,) number of real pillars per curve (at least 1).
    curve : (n,) row index into ``times`` for each query.
    t : (n,) query times in years.

    Returns
    -------
    lo, hi : (n,) pillar indices; equal where ``t`` lies outside the pillars (flat extrapolation).
    w : (n,) weight of ``hi`` (0 where ``lo == hi``).
    """
    t = np.asarray(t, dtype=np.float64)
    rows = times[curve]  # (n, P)
    last = counts[curve] - 1
    j = np.sum(rows <= t[:, None], axis=1) - 1
    lo = np.clip(j, 0, last)
    hi = np.clip(j + 1, 0, last)
    t_lo = np.take_along_axis(rows, lo[:, None], axis=1)[:, 0]
    t_hi = np.take_along_axis(rows, hi[:, None], axis=1)[:, 0]
    span = np.where(hi > lo, t_hi - t_lo, 1.0)
    w = np.where(hi > lo, (t - t_lo) / span, 0.0)
    return lo, hi, w


def pad(rows: list[np.ndarray], fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Stack ragged 1-D rows into a padded (n_rows, max_len) array and their lengths."""
    width = max((len(r) for r in rows), default=1)
    out = np.full((len(rows), max(width, 1)), fill, dtype=np.float64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out, np.array([len(r) for r in rows], dtype=np.int64)


def tenor_years(label: str) -> float:
    """``"3M"`` → 0.25, ``"2Y"`` → 2.0, ``"1W"`` → 7/365, ``"10D"`` → 10/365.

    Tenor pillars are nominal: months are twelfths of a year, weeks and days ACT/365F.
    Raises ``ValueError`` for anything else.
    """
    text = label.strip().upper()
    if len(text) < 2 or text[-1] not in "DWMY" or not text[:-1].isdigit():
        raise ValueError(f"tenor {label!r} must be a whole number followed by D, W, M or Y")
    n = int(text[:-1])
    if n <= 0:
        raise ValueError(f"tenor {label!r} must be positive")
    unit = text[-1]
    return {"D": n / 365.0, "W": 7.0 * n / 365.0, "M": n / 12.0, "Y": float(n)}[unit]
