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

Conventions (``convention=``; a job picks one with ``spec.measures.convention``)
    ``quantile`` (default)
        The definitions above: VaR is the :math:`\lceil nc\rceil`-th smallest loss, ES the
        tail average of the empirical quantile function (fractional boundary weight).
    ``lower-tail``
        With :math:`N` scenarios and :math:`k = \lceil (1-c)N \rceil` computed in exact
        rational arithmetic from the decimal the confidence was written as (``0.99`` is
        99/100, so :math:`k = 5` at 99% of 500 and :math:`k = 13` at 97.5% of 500 — a float
        product would give 5.000000000000004 → 6):
        :math:`\mathrm{VaR} = -P_{(k)}` (the k-th smallest P&L) and
        :math:`\mathrm{ES} = -\frac1k\sum_{j \le k} P_{(j)}` (mean of the k smallest).
    ``linear``
        :math:`\mathrm{VaR} = -Q(1-c)`, the P&L quantile with linear interpolation between
        order statistics (NumPy's default ``method="linear"``): position
        :math:`h = (N-1)(1-c)` (again exact), :math:`j = \lfloor h\rfloor`, :math:`g = h - j`,
        :math:`Q = (1-g)P_{(j+1)} + g\,P_{(j+2)}` (1-based order statistics);
        :math:`\mathrm{ES} = -\operatorname{mean}\{P_s : P_s \le -\mathrm{VaR}\}`.

    Every convention is expressed as weights over scenarios — ``var_weights`` (VaR =
    :math:`-w\cdot P`) and ``tail_weights`` (ES = :math:`-w\cdot P`) — so component VaR/ES
    (:math:`-P_{i\cdot} w`) sum to the totals under each of them. For ``linear`` the VaR weight
    is split :math:`(1-g, g)` between the two bracketing scenarios.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import numpy.typing as npt

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


#: VaR/ES conventions a job may select (see the module notes); the first is the default.
CONVENTIONS: tuple[str, ...] = ("quantile", "lower-tail", "linear")


def _convention(name: str) -> str:
    if name not in CONVENTIONS:
        known = ", ".join(CONVENTIONS)
        raise ValueError(f"unknown VaR/ES convention {name!r}; choose one of {known}")
    return name


def exact_tail_fraction(confidence: float) -> Fraction:
    """:math:`1 - c` as an exact rational, reading ``c`` as the shortest decimal that round-trips.

    ``0.99`` → 1/100 (not the binary double's 0.01000000000000000888…), so products with the
    scenario count are exact.
    """
    return 1 - Fraction(repr(float(confidence)))


def lower_tail_k(n: int, confidence: float) -> int:
    r""":math:`k = \lceil (1-c)\,n \rceil` in exact arithmetic, at least 1 and at most n."""
    return min(n, max(1, math.ceil(exact_tail_fraction(confidence) * n)))


def linear_position(n: int, confidence: float) -> tuple[int, float]:
    """``(j, g)``: the ``linear`` P&L quantile lies between 0-based order statistics j and j+1,
    weight ``g`` on the upper one; ``h = (n-1)(1-c)`` is exact."""
    h = exact_tail_fraction(confidence) * (n - 1)
    j = math.floor(h)
    return j, float(h - j)


def var_scenario(pnl: np.ndarray, confidence: float, convention: str = "quantile") -> int:
    """Index of the scenario whose loss is the VaR (equal losses ordered by scenario index).

    For ``linear`` it is the lower of the two bracketing scenarios (the one with weight 1-g).
    """
    pnl = _check(pnl, confidence)
    conv = _convention(convention)
    if conv == "quantile":
        order = np.argsort(-pnl, kind="stable")  # losses increasing
        k, _ = _rank(pnl.size, confidence)
        return int(order[k - 1])
    asc = np.argsort(pnl, kind="stable")  # P&L increasing
    if conv == "lower-tail":
        return int(asc[lower_tail_k(pnl.size, confidence) - 1])
    j, _ = linear_position(pnl.size, confidence)
    return int(asc[j])


def var_weights(pnl: np.ndarray, confidence: float, convention: str = "quantile") -> np.ndarray:
    r"""(n,) weights :math:`w_k \ge 0`, summing to 1, with ``VaR = -w @ pnl``."""
    pnl = _check(pnl, confidence)
    conv = _convention(convention)
    w = np.zeros(pnl.size)
    if conv != "linear":
        w[var_scenario(pnl, confidence, conv)] = 1.0
        return w
    asc = np.argsort(pnl, kind="stable")
    j, g = linear_position(pnl.size, confidence)
    w[asc[j]] = 1.0 - g
    if g > 0.0:
        w[asc[j + 1]] += g
    return w


def var(pnl: np.ndarray, confidence: float = 0.99, convention: str = "quantile") -> float:
    """Historical VaR under ``convention``, a positive loss (see the module notes)."""
    pnl = _check(pnl, confidence)
    if _convention(convention) != "linear":
        return float(-pnl[var_scenario(pnl, confidence, convention)])
    asc = np.sort(pnl)
    j, g = linear_position(pnl.size, confidence)
    lo = asc[j]
    if g == 0.0:
        return float(-lo)
    return float(-(lo + g * (asc[j + 1] - lo)))


def tail_weights(
    pnl: np.ndarray, confidence: float, convention: str = "quantile"
) -> npt.NDArray[np.float64]:
    r"""(n,) weights :math:`w_k \ge 0`, summing to 1, with ``ES = -w @ pnl``."""
    pnl = _check(pnl, confidence)
    n = pnl.size
    conv = _convention(convention)
    w = np.zeros(n)
    if conv == "lower-tail":
        k = lower_tail_k(n, confidence)
        w[np.argsort(pnl, kind="stable")[:k]] = 1.0 / k
        return w
    if conv == "linear":
        tail = pnl <= -var(pnl, confidence, "linear")
        w[tail] = 1.0 / np.count_nonzero(tail)  # never empty: the smallest P&L is ≤ the quantile
        return w
    order = np.argsort(-pnl, kind="stable")
    k, frac = _rank(n, confidence)
    w[order[k:]] = 1.0
    w[order[k - 1]] = frac
    if w.sum() == 0.0:  # n·c is an integer n: no tail beyond the last loss; ES = worst loss
        w[order[-1]] = 1.0
    result: npt.NDArray[np.float64] = w / w.sum()
    return result


def es(pnl: np.ndarray, confidence: float = 0.975, convention: str = "quantile") -> float:
    """Historical Expected Shortfall under ``convention``, a positive loss (module notes)."""
    pnl = _check(pnl, confidence)
    conv = _convention(convention)
    if conv == "lower-tail":
        k = lower_tail_k(pnl.size, confidence)
        return float(-np.sort(pnl)[:k].mean())
    if conv == "linear":
        return float(-pnl[pnl <= -var(pnl, confidence, "linear")].mean())
    w = tail_weights(pnl, confidence)
    return float(-(w @ pnl))


def component_var(
    pnl_matrix: np.ndarray, confidence: float = 0.99, convention: str = "quantile"
) -> npt.NDArray[np.float64]:
    """Each row's loss in the portfolio's VaR scenario(s): (n_rows,), sums to the VaR.

    ``pnl_matrix`` is (n_rows, n_scenarios): rows are positions (or groups). Under ``linear``
    each row gets the same interpolation weights between the two bracketing scenarios.
    """
    pnl_matrix = np.asarray(pnl_matrix, dtype=np.float64)
    total = pnl_matrix.sum(axis=0)
    if _convention(convention) != "linear":
        return -pnl_matrix[:, var_scenario(total, confidence, convention)]
    result: npt.NDArray[np.float64] = -(pnl_matrix @ var_weights(total, confidence, convention))
    return result


def component_es(
    pnl_matrix: np.ndarray, confidence: float = 0.975, convention: str = "quantile"
) -> npt.NDArray[np.float64]:
    """Each row's tail-weighted loss: (n_rows,), sums to the portfolio ES."""
    pnl_matrix = np.asarray(pnl_matrix, dtype=np.float64)
    w = tail_weights(pnl_matrix.sum(axis=0), confidence, convention)
    result: npt.NDArray[np.float64] = -(pnl_matrix @ w)
    return result


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
