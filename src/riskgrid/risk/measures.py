r"""VaR, Expected Shortfall and their allocation to positions, from P&L vectors.

Conventions
    P&L is positive for a gain. Losses are :math:`L = -\mathrm{PnL}`. VaR and ES are reported
    as positive numbers when they are losses (a VaR can be negative if even the tail scenarios
    make money).

Definitions (historical simulation, no interpolation)
    With :math:`n` scenarios and the losses sorted increasingly
    :math:`L_{(1)} \le \dots \le L_{(n)}`, at confidence :math:`c`:

    .. math::

        \mathrm{VaR}_c = L_{(\lceil nc \rceil)}

        \mathrm{ES}_c = \frac{1}{n(1-c)}\Big[\sum_{j=\lceil nc\rceil + 1}^{n} L_{(j)}
                         + \big(\lceil nc\rceil - nc\big) L_{(\lceil nc\rceil)}\Big]

    VaR is the empirical quantile (the inverse of the empirical loss distribution): with 250
    scenarios, VaR at 99% is the 3rd-worst loss. ES is the average of the quantile over the tail,
    :math:`\frac{1}{1-c}\int_c^1 \mathrm{VaR}_u\,du`, which gives the worst :math:`n(1-c)` losses
    equal weight and the boundary loss a fractional one (at 97.5% of 250: the worst 6 losses plus
    a quarter of the 7th, divided by 6.25). Equal losses are ordered by scenario index (stable
    sort), so the VaR scenario is deterministic.

Allocation (component VaR/ES)
    For historical simulation the Euler allocation of VaR is the position's loss in the VaR
    scenario :math:`k^*`, and of ES its tail-weighted average loss:

    .. math::

        \mathrm{CVaR}_i = -\mathrm{PnL}_{i k^*}, \qquad
        \mathrm{CES}_i = -\sum_k w_k \mathrm{PnL}_{ik}

    where :math:`w` are the ES tail weights above (summing to 1). Both sum over positions to the
    portfolio VaR/ES (up to floating-point summation order).
"""

from __future__ import annotations

import math

import numpy as np

from riskgrid.risk import _normal


def _check(pnl: np.ndarray, confidence: float) -> np.ndarray:
    pnl = np.asarray(pnl, dtype=np.float64)
    if pnl.ndim != 1 or pnl.size == 0:
        raise ValueError("P&L must be a non-empty 1-D vector")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return pnl


def _rank(n: int, confidence: float) -> tuple[int, float]:
    """``(k, frac)``: VaR is the k-th smallest loss (1-based), ``frac = k - n·c`` in [0, 1)."""
    x = n * confidence
    nearest = round(x)
    if abs(x - nearest) <= 1e-9 * max(1.0, x):  # n·c is an integer up to rounding
        x = float(nearest)
    k = max(1, math.ceil(x))
    return k, k - x


def var_scenario(pnl: np.ndarray, confidence: float) -> int:
    """Index of the scenario whose loss is the VaR (equal losses ordered by scenario index)."""
    pnl = _check(pnl, confidence)
    order = np.argsort(-pnl, kind="stable")  # losses increasing
    k, _ = _rank(pnl.size, confidence)
    return int(order[k - 1])


def var(pnl: np.ndarray, confidence: float = 0.99) -> float:
    """Historical VaR, a positive loss (see the module notes)."""
    pnl = _check(pnl, confidence)
    return float(-pnl[var_scenario(pnl, confidence)])


def tail_weights(pnl: np.ndarray, confidence: float) -> np.ndarray:
    """(n,) weights :math:`w_k \\ge 0`, summing to 1, with ``ES = -w @ pnl``."""
    pnl = _check(pnl, confidence)
    n = pnl.size
    order = np.argsort(-pnl, kind="stable")
    k, frac = _rank(n, confidence)
    w = np.zeros(n)
    w[order[k:]] = 1.0
    w[order[k - 1]] = frac
    if w.sum() == 0.0:  # n·c is an integer n: no tail beyond the last loss; ES = worst loss
        w[order[-1]] = 1.0
    return w / w.sum()


def es(pnl: np.ndarray, confidence: float = 0.975) -> float:
    """Historical Expected Shortfall, a positive loss (see the module notes)."""
    pnl = _check(pnl, confidence)
    w = tail_weights(pnl, confidence)
    return float(-(w @ pnl))


def component_var(pnl_matrix: np.ndarray, confidence: float = 0.99) -> np.ndarray:
    """Each row's loss in the portfolio's VaR scenario: (n_rows,), sums to the VaR.

    ``pnl_matrix`` is (n_rows, n_scenarios): rows are positions (or groups).
    """
    pnl_matrix = np.asarray(pnl_matrix, dtype=np.float64)
    k = var_scenario(pnl_matrix.sum(axis=0), confidence)
    return -pnl_matrix[:, k]


def component_es(pnl_matrix: np.ndarray, confidence: float = 0.975) -> np.ndarray:
    """Each row's tail-weighted loss: (n_rows,), sums to the portfolio ES."""
    pnl_matrix = np.asarray(pnl_matrix, dtype=np.float64)
    w = tail_weights(pnl_matrix.sum(axis=0), confidence)
    return -(pnl_matrix @ w)


def top_contributors(contributions: np.ndarray, ids: np.ndarray, n: int) -> list[tuple[str, float]]:
    """The ``n`` largest contributions (ties by position order), as ``(id, value)``."""
    order = np.argsort(-np.asarray(contributions), kind="stable")[:n]
    return [(str(ids[i]), float(contributions[i])) for i in order]


def group_sum(values: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Sum rows of ``values`` by label, labels in sorted order, rows summed in index order."""
    out: dict[str, np.ndarray] = {}
    for label in sorted(set(labels.tolist())):
        out[label] = np.asarray(values)[labels == label].sum(axis=0)
    return out


# -- parametric references (validation, sizing) ----------------------------------------------
def normal_var(sigma: float, confidence: float = 0.99) -> float:
    r"""VaR of a zero-mean normal P&L: :math:`\sigma z_c`."""
    return float(sigma * _normal.ppf(confidence))


def normal_es(sigma: float, confidence: float = 0.975) -> float:
    r"""ES of a zero-mean normal P&L: :math:`\sigma\,\varphi(z_c)/(1-c)`."""
    return float(sigma * _normal.pdf(_normal.ppf(confidence)) / (1.0 - confidence))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """:math:`P(X \\le k)` for :math:`X \\sim \\mathrm{Bin}(n, p)` (exact sum)."""
    return float(sum(math.comb(n, j) * p**j * (1.0 - p) ** (n - j) for j in range(k + 1)))


def traffic_light(exceptions: int, n: int = 250, confidence: float = 0.99) -> str:
    """Basel backtesting zone: green below the 95% binomial quantile, red at/above 99.99%."""
    cum = binomial_cdf(exceptions, n, 1.0 - confidence)
    if cum < 0.95:
        return "green"
    return "yellow" if cum < 0.9999 else "red"
