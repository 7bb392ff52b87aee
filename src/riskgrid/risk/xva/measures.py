"""Collateral, exposure profiles and credit valuation adjustments.

Collateral (per netting set with a CSA): variation margin called on the value one margin
period of risk (MPoR) before the date, ``L = V(t − MPoR)``:

    VM = max(L − H_receive, 0) − max(−L − H_pay, 0),   and VM = 0 when |VM| < MTA

(the MTA is applied to the balance, not to each call: a stateless approximation that ignores
the path of earlier calls). The collateralised exposure is ``E = V(t) − VM − IA`` with ``IA``
the independent amount held (negative: posted). Collateral accrual over the MPoR is ignored.

Profiles, all in base currency (``N`` is the base LGM numeraire, so ``E/N`` is discounted to
today):

    EPE(t) = mean(max(E, 0) / N)       ENE(t) = mean(max(−E, 0) / N)
    PFE_q(t) = q-quantile of max(E(t), 0)     (undiscounted, as ORE reports it)
    BaselEE(t) = EPE(t) / P(0, t),  EEE = running maximum of BaselEE,
    EEPE = Σ EEE(t_k) Δt_k / Σ Δt_k over the grid dates in the first year (or to maturity);
    the one-year date may lie a few days past 1.0 in ACT/365F (leap years, rolled dates), so
    the window ends at 1 + 7/365.

Credit: with survival curves ``S_c`` (counterparty) and ``S_b`` (the bank) and recoveries,

    CVA = (1 − R_c) Σ_k EPE(t_k) · (S_c(t_{k−1}) − S_c(t_k))
    DVA = (1 − R_b) Σ_k ENE(t_k) · (S_b(t_{k−1}) − S_b(t_k))

(unilateral, no first-to-default; ORE's ``Symmetric`` calculation does the same). Survival is
``exp(−∫λ)`` with a piecewise-flat hazard rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Csa:
    threshold_receive: float = 0.0
    threshold_pay: float = 0.0
    mta: float = 0.0
    independent_amount: float = 0.0
    mpor_days: int = 0


@dataclass(frozen=True)
class Credit:
    """Piecewise-flat hazard rate: ``rates[k]`` applies up to ``times[k]`` (last: beyond)."""

    times: np.ndarray
    rates: np.ndarray
    recovery: float
    shift: float = 0.0

    def survival(self, t: np.ndarray) -> npt.NDArray[np.float64]:
        t = np.asarray(t, dtype=float)
        edges = np.concatenate([[0.0], self.times[:-1]])
        lam = self.rates + self.shift
        # ∫₀ᵗ λ = Σ_k λ_k · overlap([edge_k, edge_{k+1}), [0, t]); the last piece is open.
        upper = np.concatenate([self.times[:-1], [np.inf]])
        overlap = np.clip(np.minimum(t[..., None], upper) - edges, 0.0, None)
        result: npt.NDArray[np.float64] = np.exp(-(overlap * lam).sum(axis=-1))
        return result


def collateralised(
    values: np.ndarray, lagged: np.ndarray, csa: Csa | None
) -> npt.NDArray[np.float64]:
    """``E = V − VM − IA`` (see the module docstring); ``values`` and ``lagged`` alike-shaped."""
    if csa is None:
        return values
    vm = np.maximum(lagged - csa.threshold_receive, 0.0) - np.maximum(
        -lagged - csa.threshold_pay, 0.0
    )
    vm = np.where(np.abs(vm) < csa.mta, 0.0, vm)
    result: npt.NDArray[np.float64] = values - vm - csa.independent_amount
    return result


@dataclass(frozen=True)
class Profile:
    times: np.ndarray
    epe: np.ndarray
    ene: np.ndarray
    epe_se: np.ndarray
    pfe: dict[float, np.ndarray]
    basel_ee: np.ndarray
    basel_eee: np.ndarray
    eepe: float


def profile(
    pos: np.ndarray,
    neg: np.ndarray,
    pos_undiscounted: np.ndarray,
    times: np.ndarray,
    p0: np.ndarray,
    quantiles: tuple[float, ...],
    maturity: float,
) -> Profile:
    """Profiles of one netting set from per-path arrays ``(paths, dates)``."""
    n = pos.shape[0]
    epe = pos.mean(axis=0)
    ene = neg.mean(axis=0)
    epe_se = pos.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(epe)
    pfe = {q: np.quantile(pos_undiscounted, q, axis=0) for q in quantiles}
    basel_ee = epe / p0
    eee = np.maximum.accumulate(basel_ee)
    horizon = (min(1.0, maturity) if maturity > 0 else 1.0) + 7.0 / 365.0
    dt_ = np.diff(np.concatenate([[0.0], times]))
    inside = times <= horizon
    if not inside.any():
        inside = np.zeros_like(times, dtype=bool)
        inside[0] = True
    eepe = float((eee[inside] * dt_[inside]).sum() / dt_[inside].sum())
    return Profile(times, epe, ene, epe_se, pfe, basel_ee, eee, eepe)


def default_weights(credit: Credit, times: np.ndarray) -> npt.NDArray[np.float64]:
    """``S(t_{k−1}) − S(t_k)`` for each grid date (``t_0 = 0``)."""
    s = credit.survival(np.concatenate([[0.0], times]))
    result: npt.NDArray[np.float64] = s[:-1] - s[1:]
    return result


def cva(epe_paths: np.ndarray, credit: Credit, times: np.ndarray) -> tuple[float, float]:
    """CVA and its Monte Carlo standard error from per-path discounted exposures."""
    w = (1.0 - credit.recovery) * default_weights(credit, times)
    per_path = epe_paths @ w
    n = per_path.shape[0]
    se = float(per_path.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return float(per_path.mean()), se
