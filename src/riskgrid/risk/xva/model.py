"""Cross-currency Hull–White (LGM form) with lognormal FX, simulated exactly on a time grid.

Rates (per currency ``c``): Hull–White one-factor with mean reversion ``λ`` and volatility
``σ``, written in the linear Gauss–Markov (LGM) form of Hagan:

    H(t) = (1 − e^{−λt}) / λ,      α(t) = σ e^{λt},      ζ(t) = ∫₀ᵗ α² = σ² (e^{2λt} − 1) / (2λ)
    P(t, T | x) = P(0,T)/P(0,t) · exp(−(H(T) − H(t)) x − ½ (H(T)² − H(t)²) ζ(t))
    N(t, x)     = exp(H(t) x + ½ H(t)² ζ(t)) / P(0, t)        (the LGM numeraire)

In the base (domestic) currency's LGM measure, the base state ``x_d = ∫α_d dW_d`` is driftless.
For each foreign currency ``f`` the FX rate ``X_f`` (base units per foreign unit) enters through

    Y_f(t) = X_f(t) · N_f(t) / N_d(t) = X_f(0) · exp(σ_Y W_Y(t) − ½ σ_Y² t),

a martingale of the base measure. The density ``Y_f/Y_f(0)`` changes the base measure into the
foreign LGM measure, in which ``x_f`` must be driftless; by Girsanov, under the base measure

    dx_f = α_f(t) (dW_f − ρ_{f,Y} σ_Y dt).

Then every foreign asset deflated by the base numeraire is ``Y_f · (value_f / N_f)``: a base
martingale, so exposures are arbitrage-free in every currency. ``σ_Y`` is the volatility of
``Y_f`` (the FX rate with both currencies' numeraires divided out); with deterministic rates
it is the FX volatility. All Brownian motions are correlated by one matrix over the factors
``IR:<ccy>`` and ``FX:<ccy>``. The Gaussian increments over each step are drawn exactly from
their joint covariance ``C_ij = ρ_ij ∫ α_i α_j ds`` (``α = σ_Y`` for FX factors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HullWhite:
    mean_reversion: float
    volatility: float

    def H(self, t: np.ndarray) -> np.ndarray:
        lam = self.mean_reversion
        t = np.asarray(t, dtype=float)
        if abs(lam) < 1e-12:
            return t.copy()
        return -np.expm1(-lam * t) / lam

    def zeta(self, t: np.ndarray) -> np.ndarray:
        lam, s = self.mean_reversion, self.volatility
        t = np.asarray(t, dtype=float)
        if abs(lam) < 1e-12:
            return s * s * t
        return s * s * np.expm1(2.0 * lam * t) / (2.0 * lam)

    def alpha_integral(self, t0: float, t1: float) -> float:
        """∫_{t0}^{t1} α(s) ds."""
        lam, s = self.mean_reversion, self.volatility
        if abs(lam) < 1e-12:
            return s * (t1 - t0)
        return s * (np.exp(lam * t1) - np.exp(lam * t0)) / lam


def _cross_integral(
    ri: HullWhite | None, si: float, rj: HullWhite | None, sj: float, t0: float, t1: float
) -> float:
    """∫ α_i α_j over [t0, t1]; an FX factor (``r is None``) has constant α = σ_Y."""
    lam = (ri.mean_reversion if ri else 0.0) + (rj.mean_reversion if rj else 0.0)
    a = (ri.volatility if ri else si) * (rj.volatility if rj else sj)
    if abs(lam) < 1e-12:
        return a * (t1 - t0)
    return a * (np.exp(lam * t1) - np.exp(lam * t0)) / lam


@dataclass(frozen=True)
class Factor:
    """One Brownian driver: ``IR:<ccy>`` (a Hull–White state) or ``FX:<ccy>`` (``log Y``)."""

    name: str
    rates: HullWhite | None = None
    fx_vol: float = 0.0


@dataclass(frozen=True)
class Model:
    """Factors, their correlation and the exact step covariances on a time grid."""

    factors: tuple[Factor, ...]
    correlation: np.ndarray  # (m, m), positive definite
    times: np.ndarray  # simulation timeline, increasing, > 0
    chol: np.ndarray  # (n, m, m): Cholesky factor of each step's covariance
    drift: np.ndarray  # (n, m): deterministic drift of each step (foreign IR quanto term)

    def index(self, name: str) -> int:
        return [f.name for f in self.factors].index(name)


def build_model(factors: list[Factor], correlation: np.ndarray, times: np.ndarray) -> Model:
    """Precompute step covariances; raises ``ValueError`` if a covariance is not PD."""
    m = len(factors)
    n = len(times)
    chol = np.zeros((n, m, m))
    drift = np.zeros((n, m))
    fx_of = {f.name[3:]: k for k, f in enumerate(factors) if f.rates is None}
    prev = 0.0
    for i, t in enumerate(times):
        cov = np.empty((m, m))
        for a in range(m):
            for b in range(m):
                fa, fb = factors[a], factors[b]
                cov[a, b] = correlation[a, b] * _cross_integral(
                    fa.rates, fa.fx_vol, fb.rates, fb.fx_vol, prev, float(t)
                )
        # Quanto drift of each foreign rates state: −ρ_{f,Y} σ_Y ∫ α_f ds.
        for a, f in enumerate(factors):
            if f.rates is not None and f.name[3:] in fx_of:
                k = fx_of[f.name[3:]]
                drift[i, a] = (
                    -correlation[a, k] * factors[k].fx_vol * f.rates.alpha_integral(prev, float(t))
                )
        # FX log-drift −½ σ_Y² Δt keeps Y a martingale.
        for k in fx_of.values():
            drift[i, k] = -0.5 * factors[k].fx_vol ** 2 * (float(t) - prev)
        # Zero-volatility factors give zero rows: add nothing to the diagonal then, else a
        # factorisation of an otherwise PD matrix.
        live = np.diag(cov) > 0
        if live.any():
            sub = cov[np.ix_(live, live)]
            try:
                chol[i][np.ix_(live, live)] = np.linalg.cholesky(sub)
            except np.linalg.LinAlgError:
                raise ValueError("the factor correlation matrix is not positive definite") from None
        prev = float(t)
    return Model(tuple(factors), correlation, np.asarray(times, float), chol, drift)


def simulate(model: Model, normals: np.ndarray) -> np.ndarray:
    """Factor paths from standard normals ``(paths, n_times, m)`` → states ``(paths, n, m)``.

    IR columns hold ``x`` (the LGM state); FX columns hold ``log(Y/Y(0))``.
    """
    inc = np.einsum("ptj,tij->pti", normals, model.chol) + model.drift[None, :, :]
    return np.cumsum(inc, axis=1)
