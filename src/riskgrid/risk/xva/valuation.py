"""Netting-set values on simulated states, vectorised over paths.

With ``w = weight · P(0,T)`` and ``h = H(T)``, a bond term deflated by its currency's LGM
numeraire is ``w · exp(−h x − ½ h² ζ(t))`` (the ``P(0,t)`` and ``H(t)`` factors cancel), so a
currency's deflated value at a date is one matrix product ``exp(−x hᵀ − ½ ζ h²) · Wᵀ`` over the
distinct maturities alive then. Foreign values are carried into the base currency's deflated
terms by ``Y_f`` (see :mod:`riskgrid.risk.xva.model`); multiplying by the base numeraire gives
values in base-currency units at the date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskgrid.risk.xva.model import Model
from riskgrid.risk.xva.trades import Cashflows


@dataclass(frozen=True)
class CurrencyBook:
    """One currency's terms, precompiled against the model and today's discount curve."""

    ir: int  # factor column of the rates state
    fx: int  # factor column of log Y (−1 for the base currency)
    fx_spot: float  # Y(0) = today's FX rate, base per unit
    H: np.ndarray  # (n_times,) H(t) on the timeline
    zeta: np.ndarray  # (n_times,) ζ(t)
    h: np.ndarray  # (K,) H of the distinct bond maturities
    W: np.ndarray  # (n_eval, K, ns) weight·P(0,T) alive at each evaluation date
    # fixed coupons (J of them)
    c_fix: np.ndarray  # (J,) timeline index of the fixing
    c_alive: np.ndarray  # (n_eval, J) bool: fixed and not yet paid
    c_ns: np.ndarray  # (J,) netting set
    c_notional: np.ndarray
    c_b: np.ndarray
    c_hS: np.ndarray
    c_hE: np.ndarray
    c_p0E: np.ndarray
    c_ratio0: np.ndarray  # P(0,E)/P(0,S)
    row_of: np.ndarray  # (n_times,) row of W / c_alive for a timeline index, −1: not evaluated


@dataclass(frozen=True)
class OptionLeg:
    """``Y_c · P(t,T)/N_c`` of one currency at an option's expiry, from today's curve."""

    currency: str
    p0: float  # P_c(0, T)
    h: float  # H_c(T)


@dataclass(frozen=True)
class CompiledOption:
    kind: str  # "fx" | "equity"
    amount: float
    strike: float
    call: bool
    expiry: float
    volatility: float
    netting_set: int
    pay: OptionLeg  # the payment currency's bond to expiry
    under: OptionLeg | None  # FX: the underlying currency's bond to expiry
    equity_col: int = -1  # equity: state column of log(E/E0)
    equity_e0: float = 0.0  # E(0) = X_c(0)·S(0)
    dividend: float = 0.0


@dataclass(frozen=True)
class Book:
    model: Model
    base: str
    currencies: dict[str, CurrencyBook]
    n_netting_sets: int
    base_p0: np.ndarray  # (n_times,) P_base(0, t) on the timeline
    options: tuple[CompiledOption, ...] = ()


def compile_currency(
    cf: Cashflows,
    currency: str,
    model: Model,
    p0: Callable[[np.ndarray], np.ndarray],  # model times → P(0, T)
    ir: int,
    fx: int,
    fx_spot: float,
    n_ns: int,
    evals: np.ndarray,
) -> CurrencyBook:
    """Compile one currency's terms; ``evals`` are the timeline indices values are taken at
    (report dates and collateral lag dates): alive weights are kept for those dates only."""
    rates = model.factors[ir].rates
    assert rates is not None
    times = model.times
    at = times[evals]
    row_of = np.full(len(times), -1, dtype=np.int64)
    row_of[evals] = np.arange(len(evals))
    bonds = [b for b in cf.bonds if b.currency == currency]
    mats = np.array(sorted({b.maturity for b in bonds}), dtype=float)
    col = {m: k for k, m in enumerate(mats.tolist())}
    W = np.zeros((len(evals), len(mats), n_ns))
    if bonds:
        p0m = p0(mats)
        for b in bonds:
            alive = at < b.alive_until
            W[alive, col[b.maturity], b.netting_set] += b.weight * p0m[col[b.maturity]]
    coupons = [c for c in cf.coupons if c.currency == currency]
    idx = {float(t): i for i, t in enumerate(times.tolist())}
    fixing = np.array([c.fixing for c in coupons], dtype=float)
    payment = np.array([c.payment for c in coupons], dtype=float)
    alive = (at[:, None] >= fixing[None, :]) & (at[:, None] < payment[None, :])
    p0S, p0E = p0(fixing), p0(payment)
    return CurrencyBook(
        ir=ir,
        fx=fx,
        fx_spot=fx_spot,
        H=rates.H(times),
        zeta=rates.zeta(times),
        h=rates.H(mats),
        W=W,
        c_fix=np.array([idx[c.fixing] for c in coupons], dtype=np.int64),
        c_alive=alive,
        c_ns=np.array([c.netting_set for c in coupons], dtype=np.int64),
        c_notional=np.array([c.notional for c in coupons], dtype=float),
        c_b=np.array([c.basis_ratio for c in coupons], dtype=float),
        c_hS=rates.H(fixing),
        c_hE=rates.H(payment),
        c_p0E=p0E,
        c_ratio0=p0E / p0S if len(coupons) else p0E,
        row_of=row_of,
    )


def _fixed_amounts(
    cb: CurrencyBook, states: np.ndarray, zeta_fix: np.ndarray
) -> npt.NDArray[np.float64]:
    """Per path and coupon: ``N·(b / P(S, E | x_S) − 1)`` — the coupon fixed on this path."""
    x_fix = states[:, cb.c_fix, cb.ir]  # (paths, J)
    log_p = (
        np.log(cb.c_ratio0)[None, :]
        - (cb.c_hE - cb.c_hS)[None, :] * x_fix
        - 0.5 * (cb.c_hE**2 - cb.c_hS**2)[None, :] * zeta_fix[None, :]
    )
    result: npt.NDArray[np.float64] = cb.c_notional[None, :] * (
        cb.c_b[None, :] * np.exp(-log_p) - 1.0
    )
    return result


def deflated_values(book: Book, states: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Netting-set values deflated by the base numeraire: ``(paths, len(at), ns)``."""
    n_paths = states.shape[0]
    out = np.zeros((n_paths, len(at), book.n_netting_sets))
    for cb in book.currencies.values():
        amounts = _fixed_amounts(cb, states, cb.zeta[cb.c_fix]) if len(cb.c_fix) else None
        for j, i in enumerate(at):
            x = states[:, i, cb.ir]
            z = cb.zeta[i]
            val = np.zeros((n_paths, book.n_netting_sets))
            r = cb.row_of[i]
            if r < 0:
                raise ValueError(f"timeline index {i} was not compiled for evaluation")
            live = np.flatnonzero(np.any(cb.W[r] != 0.0, axis=1))
            if live.size:
                h = cb.h[live]
                val += np.exp(-np.outer(x, h) - 0.5 * z * h * h) @ cb.W[r][live]
            if amounts is not None:
                alive = np.flatnonzero(cb.c_alive[r])
                if alive.size:
                    hE = cb.c_hE[alive]
                    disc = cb.c_p0E[alive] * np.exp(-np.outer(x, hE) - 0.5 * z * hE * hE)
                    contrib = amounts[:, alive] * disc
                    onehot = np.zeros((alive.size, book.n_netting_sets))
                    onehot[np.arange(alive.size), cb.c_ns[alive]] = 1.0
                    val += contrib @ onehot
            if cb.fx >= 0:
                val *= (cb.fx_spot * np.exp(states[:, i, cb.fx]))[:, None]
            out[:, j, :] += val
    if book.options:
        out += option_values(book, states, at)
    return out


def _deflated_bond(
    book: Book, leg: OptionLeg, states: np.ndarray, i: int
) -> npt.NDArray[np.float64]:
    """``Y_c · P_c(t, T) / N_c`` on every path at timeline index ``i``."""
    cb = book.currencies[leg.currency]
    x = states[:, i, cb.ir]
    out: npt.NDArray[np.float64] = leg.p0 * np.exp(-leg.h * x - 0.5 * leg.h * leg.h * cb.zeta[i])
    if cb.fx >= 0:
        out = out * cb.fx_spot * np.exp(states[:, i, cb.fx])
    return out


def _black(fwd: np.ndarray, strike: float, sd: float, call: bool) -> npt.NDArray[np.float64]:
    """Undiscounted Black price with total standard deviation ``sd`` > 0."""
    from scipy.special import ndtr

    d1 = (np.log(fwd / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    if call:
        result: npt.NDArray[np.float64] = fwd * ndtr(d1) - strike * ndtr(d2)
        return result
    result = strike * ndtr(-d2) - fwd * ndtr(-d1)
    return result


def option_values(book: Book, states: np.ndarray, at: np.ndarray) -> np.ndarray:
    """European options by Black's formula on each state, deflated: ``(paths, len(at), ns)``.

    With ``D = Y_c P_c(t,T)/N_c`` (deflated bonds to expiry), an FX option has forward
    ``F = D_under / D_pay`` and an equity option ``F = E e^{−qT} / D_pay``; the deflated value is
    ``amount · D_pay · Black(F, K, σ √(T − t))``. An option at or past expiry is worth nothing
    (cash-settled at expiry).
    """
    out = np.zeros((states.shape[0], len(at), book.n_netting_sets))
    times = book.model.times
    for o in book.options:
        for j, i in enumerate(at):
            tau = o.expiry - times[i]
            if tau <= 0:
                continue
            d_pay = _deflated_bond(book, o.pay, states, i)
            if o.kind == "fx":
                assert o.under is not None
                fwd = _deflated_bond(book, o.under, states, i) / d_pay
            else:
                e = o.equity_e0 * np.exp(states[:, i, o.equity_col])
                fwd = e * np.exp(-o.dividend * o.expiry) / d_pay
            out[:, j, o.netting_set] += (
                o.amount * d_pay * _black(fwd, o.strike, o.volatility * np.sqrt(tau), o.call)
            )
    return out


def base_numeraire(book: Book, states: np.ndarray, at: np.ndarray) -> npt.NDArray[np.float64]:
    """``N_d(t, x)`` at the timeline indices ``at``: ``(paths, len(at))``."""
    cb = book.currencies[book.base]
    H, z = cb.H[at], cb.zeta[at]
    x = states[:, at, cb.ir]
    result: npt.NDArray[np.float64] = (
        np.exp(H[None, :] * x + 0.5 * (H * H * z)[None, :]) / book.base_p0[at][None, :]
    )
    return result
