"""Cross-currency Hull–White (LGM form) with lognormal FX, simulated exactly on a time grid.

Rates (per currency ``c``): Hull–White one-factor with mean reversion ``λ`` and volatility
``σ``, written in the linear Gauss–Markov (LGM) form of Hagan:

    H(t) = (1 − e^{−λt}) / λ,      α(t) = σ e^{λt},      ζ(t) = ∫₀ᵗ α² = σ² (e^{2λt} − 1) / (2λ)
    P(t, T | x) = P(0,T)/P(0,t) · exp(−(H(T) − H(t)) x − ½ (H(T)² − H(t)²) ζ(t))
    N(t, x)     = exp(H(t) x + ½ H(t)² ζ(t)) / P(0, t)        (the LGM numeraire)

FX: the rate ``X_f`` (base units per foreign unit) is lognormal with constant volatility
``σ_X`` (ORE's cross-asset model). Everything is simulated in the base currency's LGM measure,
where the base state ``x_d = ∫α_d dW_d`` is driftless. For a foreign currency the process

    Y_f = X_f · N_f / N_d,     d log Y_f = σ_X dW_X + H_f α_f dW_f − H_d α_d dW_d − ½ |v|² dt

is a base-measure martingale (``v`` is its volatility vector). The density ``Y_f/Y_f(0)`` turns
the base measure into the foreign LGM measure, in which ``x_f`` is driftless; by Girsanov, under
the base measure ``x_f`` drifts by ``−d⟨x_f, log Y_f⟩``:

    dx_f = −α_f (ρ_{f,X} σ_X + H_f α_f − ρ_{f,d} H_d α_d) dt + α_f dW_f.

A foreign asset deflated by the base numeraire is ``Y_f · (value_f / N_f)``: a base martingale.

Simulation is exact: per step, the Gaussian increments of the components ``x_c = ∫α_c dW_c``,
``u_c = ∫H_c α_c dW_c`` (every currency) and ``w_f = ∫σ_X dW_X`` (every FX rate) are drawn
from their joint covariance ``ρ_ij ∫ g_i g_j ds``; every ``g`` is a sum of exponentials, so each
integral is closed form. ``log Y`` adds ``Δw_f + Δu_f − Δu_d`` minus half its step variance,
and ``x_f`` adds its drift ``−Cov(Δx_f, Δw_f + Δu_f − Δu_d)``.

Equities: a share ``S`` in currency ``c`` with dividend yield ``q`` and lognormal volatility
``σ_S``. ``E = X_c S e^{qt} / N_d`` is a base martingale whose diffusion is
``σ_S dW_S (+ σ_X dW_X for a foreign c) − H_d α_d dW_d``; it is simulated like ``log Y``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A deterministic function of time as Σ a_k e^{b_k s}.
Exps = tuple[tuple[float, float], ...]


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

    def alpha(self) -> Exps:
        return ((self.volatility, self.mean_reversion),)

    def h_alpha(self) -> Exps:
        """``H(s) α(s) = σ (e^{λs} − 1)/λ``; with λ → 0 the tiny-λ form stays accurate."""
        lam = self.mean_reversion if abs(self.mean_reversion) > 1e-7 else 1e-7
        s = self.volatility
        return ((s / lam, lam), (-s / lam, 0.0))


def _integral(f: Exps, g: Exps, t0: float, t1: float) -> float:
    """∫_{t0}^{t1} f(s) g(s) ds for sums of exponentials."""
    total = 0.0
    for a, b in f:
        for c, d in g:
            r = b + d
            if abs(r) < 1e-14:
                total += a * c * (t1 - t0)
            else:
                total += a * c * (np.exp(r * t1) - np.exp(r * t0)) / r
    return total


@dataclass(frozen=True)
class Factor:
    """A Brownian driver: ``IR:<ccy>`` (Hull–White), ``FX:<ccy>`` (its FX rate's σ_X) or
    ``EQ:<name>`` (an equity in ``equity_currency`` with lognormal volatility ``fx_vol``)."""

    name: str
    rates: HullWhite | None = None
    fx_vol: float = 0.0
    equity_currency: str = ""

    @property
    def is_equity(self) -> bool:
        return self.name.startswith("EQ:")

    @property
    def currency(self) -> str:
        return self.name.split(":", 1)[1]


@dataclass(frozen=True)
class Model:
    """Factors, their correlation and each step's exact covariance on a time grid.

    State columns: ``x`` per IR factor, ``log(Y/Y(0))`` per FX factor and ``log(E/E(0))`` per
    equity factor (``E = X_c S e^{qt} / N_d``, a base martingale), in factor order;
    the ``u`` components ride along in the Gaussian draw only.
    """

    factors: tuple[Factor, ...]
    correlation: np.ndarray
    base: str
    times: np.ndarray
    chol: np.ndarray  # (n, k, k): a square root of each step's component covariance
    mix: np.ndarray  # (k, m): components → state increments (x, and Δw + Δu_f − Δu_d)
    drift: np.ndarray  # (n, m): deterministic drift of each step's state increment

    def index(self, name: str) -> int:
        return [f.name for f in self.factors].index(name)

    @property
    def n_normals(self) -> int:
        return int(self.chol.shape[1])


def _components(factors: list[Factor], ir: list[int], fx: list[int]) -> list[tuple[int, Exps]]:
    """``(Brownian factor, integrand)`` of each component: x per IR, u per IR, w per FX."""
    comps: list[tuple[int, Exps]] = []
    for k in ir:
        hw = factors[k].rates
        assert hw is not None
        comps.append((k, hw.alpha()))
    for k in ir:
        hw = factors[k].rates
        assert hw is not None
        comps.append((k, hw.h_alpha()))
    for k in fx:
        comps.append((k, ((factors[k].fx_vol, 0.0),)))
    return comps


def build_model(
    factors: list[Factor], correlation: np.ndarray, times: np.ndarray, base: str | None = None
) -> Model:
    """Precompute step covariances; raises ``ValueError`` if the correlation is not PD."""
    m = len(factors)
    ir = [k for k, f in enumerate(factors) if f.rates is not None]
    fx = [k for k, f in enumerate(factors) if f.rates is None]  # FX and equity factors
    if base is None:
        base = factors[ir[0]].currency
    if np.linalg.eigvalsh(correlation).min() <= 1e-12:
        raise ValueError("the factor correlation matrix is not positive definite")
    ir_of = {factors[k].currency: k for k in ir}
    comps = _components(factors, ir, fx)
    n_c = len(comps)
    u_col = {k: len(ir) + i for i, k in enumerate(ir)}
    mix = np.zeros((n_c, m))
    for i, k in enumerate(ir):
        mix[i, k] = 1.0
    fx_of = {factors[k].currency: k for k in fx if not factors[k].is_equity}
    for j, k in enumerate(fx):
        mix[2 * len(ir) + j, k] = 1.0
        if factors[k].is_equity:
            # log(X_c S e^{qt} / N_d): σ_S dW_S (+ σ_X dW_X if foreign) − H_d α_d dW_d
            ccy = factors[k].equity_currency
            if ccy != base:
                mix[2 * len(ir) + fx.index(fx_of[ccy]), k] += 1.0
        else:
            mix[u_col[ir_of[factors[k].currency]], k] += 1.0
        mix[u_col[ir_of[base]], k] -= 1.0
    n = len(times)
    chol = np.zeros((n, n_c, n_c))
    drift = np.zeros((n, m))
    prev = 0.0
    for i, t in enumerate(np.asarray(times, float)):
        cov = np.empty((n_c, n_c))
        for a, (fa, ga) in enumerate(comps):
            for b, (fb, gb) in enumerate(comps):
                cov[a, b] = correlation[fa, fb] * _integral(ga, gb, prev, float(t))
        state_cov = mix.T @ cov @ mix  # covariance of the state increments
        for k in fx:
            drift[i, k] = -0.5 * state_cov[k, k]  # keeps Y (or the deflated equity) a martingale
            f = None if factors[k].is_equity else ir_of.get(factors[k].currency)
            if f is not None:
                # x_f: −Cov(Δx_f, Δlog Y_f), the Girsanov drift into the foreign measure
                drift[i, f] = -state_cov[f, k]
        # x_c and u_c share one Brownian motion and are almost collinear over a short step, so
        # the square root comes from the eigen-decomposition (PSD-safe), not Cholesky.
        w, v = np.linalg.eigh(cov)
        chol[i] = v * np.sqrt(np.clip(w, 0.0, None))[None, :]
        prev = float(t)
    return Model(tuple(factors), correlation, base, np.asarray(times, float), chol, mix, drift)


def simulate(model: Model, normals: np.ndarray) -> np.ndarray:
    """States ``(paths, n_times, m)`` from standard normals ``(paths, n_times, n_normals)``.

    IR columns hold ``x`` (the LGM state); FX columns hold ``log(Y/Y(0))``.
    """
    comps = np.einsum("ptj,tij->pti", normals, model.chol)
    inc = comps @ model.mix + model.drift[None, :, :]
    return np.cumsum(inc, axis=1)
