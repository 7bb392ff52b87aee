r"""Monte Carlo kernels: GBM and Heston-QE paths, Asian, barrier and Longstaff–Schwartz payoffs.

Every kernel takes the position's standard normals ``z`` (paths × dims, from
:mod:`riskgrid.risk.rng`) and one market state per *column* (base or scenario: spot, rates,
vol as 1-D arrays of length n_cols) and returns ``(price, standard_error)`` per column. The
same ``z`` serves every column — common random numbers — so a scenario's P&L carries only
the MC noise of the *difference* of two prices on the same paths (it converges to
delta × shock for small shocks; tested).

The path and payoff code is written once against the array API (``array_api_compat``):
``xp = array_namespace(z)``, so passing CuPy normals runs it on a GPU (``--device gpu``);
NumPy otherwise. Reductions run along the last (paths) axis of a C-contiguous
(cols, paths) array, so a column's value does not depend on which other columns share the
call (blocks are bit-identical to the whole).

Standard errors: with antithetic sampling the estimator is the mean of the pair averages
:math:`Y_i = \tfrac12(f(Z_i) + f(-Z_i))` and the SE is :math:`\mathrm{sd}(Y)/\sqrt{n/2}`;
with a control variate :math:`G` of known mean, :math:`Y_i - \hat\beta(G_i - E[G])` with
:math:`\hat\beta` the per-column regression coefficient (a second-order bias of order 1/n).

GBM paths are exact at the fixing/monitoring dates (no time-discretisation bias). Heston
paths use Andersen's (2008) quadratic-exponential scheme with :math:`\gamma_1=\gamma_2=\tfrac12`
and no martingale correction; its discretisation bias is measured against the Lewis price in
``tests/risk/test_risk_exotics_mc.py`` and reported in docs/risk.md.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_numpy_namespace

from riskgrid.risk import _normal

Array = Any


def _host(x: Array) -> np.ndarray:
    """A NumPy copy of an array of any namespace (CuPy arrays don't convert implicitly; others
    through DLPack)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy: device → host copy
        return np.asarray(x.get())
    return np.from_dlpack(x)


def _pair_mean(xp: Any, y: Array, antithetic: bool) -> Array:
    """Pair-average antithetic halves along the last axis (no-op otherwise)."""
    if not antithetic:
        return y
    h = y.shape[-1] // 2
    return 0.5 * (y[..., :h] + y[..., h:])


def _mean_se(xp: Any, y: Array) -> tuple[Array, Array]:
    n = y.shape[-1]
    mean = xp.mean(y, axis=-1)
    sd = xp.std(y, axis=-1, correction=1) if n > 1 else xp.zeros_like(mean)
    return mean, sd / (n**0.5)


def _cv_mean_se(xp: Any, y: Array, g: Array, g_mean: Array) -> tuple[Array, Array]:
    """Control-variate estimator per column (``g_mean`` known exactly)."""
    yc = y - xp.mean(y, axis=-1, keepdims=True)
    gc = g - xp.mean(g, axis=-1, keepdims=True)
    var_g = xp.sum(gc * gc, axis=-1)
    beta = xp.where(var_g > 0, xp.sum(yc * gc, axis=-1) / xp.where(var_g > 0, var_g, 1.0), 0.0)
    adj = y - beta[:, None] * (g - g_mean[:, None])
    return _mean_se(xp, adj)


def _cv_multi_mean_se(
    xp: Any, y: Array, gs: list[Array], g_means: list[Array]
) -> tuple[Array, Array]:
    r"""Control-variate estimator with several controls per column (means known exactly):
    :math:`Y - \sum_a \hat\beta_a (G_a - E[G_a])`, :math:`\hat\beta` from the per-column
    normal equations (a control with zero variance in a column gets :math:`\hat\beta_a = 0`)."""
    k = len(gs)
    yc = y - xp.mean(y, axis=-1, keepdims=True)
    gc = [g - xp.mean(g, axis=-1, keepdims=True) for g in gs]
    cov = xp.stack(
        [xp.stack([xp.sum(gc[a] * gc[b], axis=-1) for b in range(k)], axis=-1) for a in range(k)],
        axis=1,
    )  # (cols, k, k)
    rhs = xp.stack([xp.sum(yc * g, axis=-1) for g in gc], axis=-1)  # (cols, k)
    dead = xp.stack([cov[:, a, a] <= 0.0 for a in range(k)], axis=-1)  # (cols, k)
    cov = cov + xp.eye(k, dtype=xp.float64)[None, :, :] * xp.astype(dead, xp.float64)[:, None, :]
    rhs = xp.where(dead, 0.0, rhs)
    beta = xp.linalg.solve(cov, rhs[:, :, None])[:, :, 0]
    adj = y
    for a in range(k):
        adj = adj - beta[:, a : a + 1] * (gs[a] - g_means[a][:, None])
    return _mean_se(xp, adj)


def _walk(xp: Any, z: Array, dt: np.ndarray) -> Array:
    r"""Brownian motion at the dates, date-major and C-contiguous: (dates, paths),
    :math:`W_j = W_{j-1} + \sqrt{\Delta t_j}\,Z_j` summed in date order.

    NumPy's ``cumsum`` along either axis of a (paths × dates) block runs ~40× slower than this
    row-by-row loop over contiguous date slices (same additions in the same order, so the same
    bits); other namespaces use ``cumulative_sum``.
    """
    if is_numpy_namespace(xp):
        # a new C-contiguous (dates, paths) array (never z's own buffer: z is reused for
        # every column chunk); free of a transposing copy when z is rng's Fortran-order draw
        w = np.multiply(np.asarray(z).T, np.sqrt(dt)[:, None], order="C")
        for j in range(1, w.shape[0]):
            np.add(w[j], w[j - 1], out=w[j])
        return w
    d = xp.asarray(dt, dtype=xp.float64)
    return xp.cumulative_sum(xp.permute_dims(z, (1, 0)) * xp.sqrt(d)[:, None], axis=0)


def gbm_at(z: Array, times: np.ndarray, spot: Array, r: Array, q: Array, vol: Array) -> Array:
    r"""GBM spots at ``times`` (ascending, > 0): (cols, paths, len(times)).

    :math:`S_{t_j} = S_0 \exp\big((r - q - \tfrac12\sigma^2)t_j + \sigma W_{t_j}\big)`,
    :math:`W_{t_j} = \sum_{i\le j}\sqrt{t_i - t_{i-1}}\,Z_i`.
    """
    xp = array_namespace(z)
    t = xp.asarray(times, dtype=xp.float64)
    w = xp.permute_dims(_walk(xp, z, np.diff(np.concatenate([[0.0], times]))), (1, 0))
    if is_numpy_namespace(xp):
        w = np.ascontiguousarray(w)  # (paths, steps) in C order, as the reductions expect
    drift = (r - q - 0.5 * vol * vol)[:, None] * t[None, :]  # (cols, steps)
    log_s = drift[:, None, :] + vol[:, None, None] * w[None, :, :]
    return spot[:, None, None] * xp.exp(log_s)


def asian(
    z: Array,
    *,
    times: np.ndarray,
    expiry: float,
    is_call: bool,
    geometric: bool,
    average_strike: bool,
    strike: float,
    past_sum: float,
    past_log_sum: float,
    n_total: int,
    spot: Array,
    r: Array,
    q: Array,
    vol: Array,
    antithetic: bool,
    control_variate: bool,
) -> tuple[Array, Array]:
    """Asian option per column: average-price (fixed ``strike``) or average-strike.

    Past fixings enter through ``past_sum`` / ``past_log_sum`` (of ``n_total`` fixings).
    The arithmetic average-price option uses the geometric one (closed form,
    :mod:`riskgrid.risk.asian`) as control variate when ``control_variate``.
    """
    from riskgrid.risk import asian as closed

    xp = array_namespace(z)
    # date by date on (cols, paths) slices: ln S_j = ln S₀ + (r − q − σ²/2)t_j + σW_j; running
    # sums of S_j and ln S_j (no (cols, paths, dates) array, no log of the spots)
    w = _walk(xp, z, np.diff(np.concatenate([[0.0], times])))  # (dates, paths)
    drift = (
        xp.log(spot)[:, None]
        + (r - q - 0.5 * vol * vol)[:, None] * xp.asarray(times, dtype=xp.float64)[None, :]
    )  # (cols, dates)
    total = log_total = s_t = xp.zeros((spot.shape[0], 1), dtype=xp.float64)
    for j in range(len(times)):
        log_s = drift[:, j : j + 1] + vol[:, None] * w[j : j + 1, :]
        s_t = xp.exp(log_s)
        log_total = log_total + log_s
        if not geometric:
            total = total + s_t
    phi = 1.0 if is_call else -1.0
    geo = xp.exp((past_log_sum + log_total) / n_total)
    avg = geo if geometric else (past_sum + total) / n_total
    df = xp.exp(-r * expiry)[:, None]
    if average_strike:
        pay = df * xp.maximum(phi * (s_t - avg), 0.0)
        return _mean_se(xp, _pair_mean(xp, pay, antithetic))
    pay = df * xp.maximum(phi * (avg - strike), 0.0)
    y = _pair_mean(xp, pay, antithetic)
    if geometric or not control_variate:
        return _mean_se(xp, y)
    g = _pair_mean(xp, df * xp.maximum(phi * (geo - strike), 0.0), antithetic)
    g_mean = closed.geometric_price(
        is_call,
        _host(spot),
        strike,
        times,
        expiry,
        _host(r),
        _host(q),
        _host(vol),
        n_total=n_total,
        past_log_sum=past_log_sum,
    )
    return _cv_mean_se(xp, y, g, xp.asarray(g_mean))  # back on y's device


def barrier_discrete(
    z: Array,
    *,
    times: np.ndarray,
    expiry: float,
    is_call: bool,
    is_down: bool,
    is_in: bool,
    strike: float,
    barrier: float,
    rebate: float,
    spot: Array,
    r: Array,
    q: Array,
    vol: Array,
    antithetic: bool,
) -> tuple[Array, Array]:
    """Discretely monitored barrier (monitoring dates ``times``, the last = expiry), exact GBM.

    Knock-out rebates are paid at the first monitoring date beyond the barrier; knock-in
    rebates at expiry when never knocked in. Flat rate ``r`` per column for discounting.
    """
    xp = array_namespace(z)
    t = xp.asarray(times, dtype=xp.float64)
    w = _walk(xp, z, np.diff(np.concatenate([[0.0], times])))  # (dates, paths)
    # S_t ≷ H  ⇔  σW_t ≷ ln(H/S₀) − (r − q − σ²/2)t: compare the Brownian paths with one
    # threshold per (column, date) instead of building and exponentiating every spot
    mu = r - q - 0.5 * vol * vol
    thr = (math.log(barrier) - xp.log(spot))[:, None] - mu[:, None] * t[None, :]
    # vol > 0: the loader refuses non-positive vols, shifts are > −1, vega bumps stay positive
    thr = thr / vol[:, None]
    # date by date on (cols, paths) slices: no (cols, dates, paths) array
    knock_out_rebate = not is_in and rebate != 0.0
    shape = (spot.shape[0], w.shape[1])
    hit = xp.zeros(shape, dtype=xp.bool)
    df_hit = xp.zeros(shape, dtype=xp.float64)  # discount factor at the first hit date
    for j in range(len(times)):
        beyond = (w[j : j + 1, :] <= thr[:, j : j + 1]) if is_down else (
            w[j : j + 1, :] >= thr[:, j : j + 1]
        )  # fmt: skip
        if knock_out_rebate:
            df_hit = xp.where(beyond & ~hit, xp.exp(-r * float(times[j]))[:, None], df_hit)
        hit = hit | beyond
    s_t = spot[:, None] * xp.exp((mu * expiry)[:, None] + vol[:, None] * w[None, -1, :])
    phi = 1.0 if is_call else -1.0
    df_t = xp.exp(-r * expiry)[:, None]
    vanilla = df_t * xp.maximum(phi * (s_t - strike), 0.0)
    if is_in:
        pay = xp.where(hit, vanilla, df_t * rebate)
    elif rebate == 0.0:
        pay = xp.where(hit, 0.0, vanilla)
    else:
        pay = xp.where(hit, df_hit * rebate, vanilla)
    return _mean_se(xp, _pair_mean(xp, pay, antithetic))


def heston_paths(
    z: Array,
    *,
    times: np.ndarray,
    spot: Array,
    r: Array,
    q: Array,
    v0: Array,
    kappa: float,
    theta: Array,
    sigma: float,
    rho: float,
    keep: np.ndarray | None = None,
) -> tuple[Array, Array]:
    r"""Andersen QE-M on the grid ``times``: log-spots and variances, each (cols, paths, steps).

    ``z`` has 2·steps columns: variance normals then spot normals. Variance: moments
    :math:`m = \theta + (v - \theta)e^{-\kappa\Delta}`,
    :math:`s^2 = v\sigma^2 e^{-\kappa\Delta}(1 - e^{-\kappa\Delta})/\kappa
    + \theta\sigma^2(1 - e^{-\kappa\Delta})^2/(2\kappa)`, :math:`\psi = s^2/m^2`; quadratic
    branch :math:`v' = a(b + Z_v)^2`, :math:`b^2 = 2/\psi - 1 + \sqrt{2/\psi}\sqrt{2/\psi - 1}`,
    :math:`a = m/(1 + b^2)` for :math:`\psi \le 1.5`; exponential branch otherwise:
    :math:`p = (\psi - 1)/(\psi + 1)`, :math:`\beta = (1 - p)/m`, :math:`U = N(Z_v)`,
    :math:`v' = 0` if :math:`U \le p`, else :math:`\ln\frac{1-p}{1-U}/\beta`.

    Log-spot with :math:`\gamma_1 = \gamma_2 = 1/2` and Andersen's martingale correction:
    :math:`\ln S' = \ln S + (r-q)\Delta + K_0^* + K_1 v + K_2 v' + \sqrt{K_3 (v + v')}\,Z_s`,
    :math:`K_0^* = -\ln M - (K_1 + \tfrac12 K_3) v` where
    :math:`M = E[e^{A v'} \mid v]`, :math:`A = K_2 + \tfrac12 K_3`: quadratic branch
    :math:`\ln M = \frac{A b^2 a}{1 - 2Aa} - \tfrac12\ln(1 - 2Aa)`, exponential branch
    :math:`M = p + \beta(1-p)/(\beta - A)`. Then :math:`E[S' \mid S, v] = S e^{(r-q)\Delta}`
    exactly, so the discounted spot is a martingale *of the scheme* — which is what makes the
    martingale control variate (:func:`martingale_cv_mean_se`) unbiased. :math:`M` exists for
    :math:`A < 1/(2a)` (quadratic) and :math:`A < \beta` (exponential); always when
    :math:`A \le 0` (e.g. :math:`\rho \le 0`). An element where it does not (large positive
    :math:`\rho` with coarse steps) keeps Andersen's uncorrected drift
    :math:`K_0 = -\rho\kappa\theta\Delta/\sigma`.

    ``keep`` (step indices, ascending) limits the returned steps (a European payoff needs only
    the last): the recursion is the same, only fewer steps are stored.

    Array-API generic. The exponential branch (ψ > 1.5, where the variance is near zero) is
    evaluated only on the elements that take it, with the normal CDF of just those normals;
    the quadratic branch on all (its value is discarded where ψ > 1.5). Each element's
    arithmetic is the same whatever the array's shape, so a column's paths do not depend on
    the other columns in the call.
    """
    xp = array_namespace(z)
    keep_set = set(range(len(times))) if keep is None else {int(k) for k in keep}
    logs, vs = [], []
    steps = heston_steps(
        z, times=times, spot=spot, r=r, q=q, v0=v0, kappa=kappa, theta=theta, sigma=sigma,
        rho=rho,
    )  # fmt: skip
    for i, x, v in steps:
        if i in keep_set:
            logs.append(x)
            vs.append(v)
    return xp.stack(logs, axis=-1), xp.stack(vs, axis=-1)


def heston_steps(
    z: Array,
    *,
    times: np.ndarray,
    spot: Array,
    r: Array,
    q: Array,
    v0: Array,
    kappa: float,
    theta: Array,
    sigma: float,
    rho: float,
) -> Iterator[tuple[int, Array, Array]]:
    """The QE-M recursion of :func:`heston_paths` one step at a time: yields ``(i, x, v)``,
    the log-spots and variances (cols, paths) after step ``i``.

    Payoffs that only need running quantities (a survival probability, a sum of fixings)
    consume the steps as they come, so no (cols, paths, steps) array is ever built: the
    live memory is a few (cols, paths) arrays, which keeps a kernel call in cache. The
    yielded arrays are fresh each step; callers must not write into them.
    """
    xp = array_namespace(z)
    n_steps = len(times)
    dts = np.diff(np.concatenate([[0.0], times]))
    zt = _rows(xp, z)  # (2·steps, paths), contiguous rows
    shape = (spot.shape[0], z.shape[0])
    v = v0[:, None] * xp.ones(shape, dtype=xp.float64)
    x = xp.log(spot)[:, None] * xp.ones(shape, dtype=xp.float64)
    for i in range(n_steps):
        v_new, log_m = _qe_variance(
            xp, v, zt[i, :][None, :], float(dts[i]), kappa, theta, sigma, rho
        )
        x = _qe_log_spot(xp, x, v, v_new, log_m, zt[n_steps + i, :][None, :], float(dts[i]),
                         r - q, kappa, theta, sigma, rho)  # fmt: skip
        v = v_new
        yield i, x, v


def heston_european(
    z: Array,
    *,
    times: np.ndarray,
    is_call: bool,
    strike: float,
    spot: Array,
    r: Array,
    q: Array,
    v0: Array,
    kappa: float,
    theta: Array,
    sigma: float,
    rho: float,
    antithetic: bool,
    control_variate: bool,
) -> tuple[Array, Array]:
    r"""European option under Heston by QE-M Monte Carlo (expiry ``times[-1]``), per column.

    With ``control_variate`` two controls: the discounted terminal spot :math:`e^{-rT}S_T`
    (mean :math:`S_0e^{-qT}`, exact under QE-M, see :func:`martingale_cv`) and the call on the
    shadow GBM (:func:`shadow_gbm_steps`, Black–Scholes mean at :func:`shadow_vol`); the same
    controls serve the Heston Asians and barriers of a job (:mod:`riskgrid.risk.exotics`).
    Production prices Heston Europeans by the Lewis integral;
    this is the MC check of the QE-M paths those products use (tests, ``bench_mc.py``).
    """
    from riskgrid.risk import black_scholes

    xp = array_namespace(z)
    n = len(times)
    logs, _ = heston_paths(
        z, times=times, spot=spot, r=r, q=q, v0=v0, kappa=kappa, theta=theta, sigma=sigma,
        rho=rho, keep=np.array([n - 1]),
    )  # fmt: skip
    expiry = float(times[-1])
    df = xp.exp(-r * expiry)[:, None]
    s_t = xp.exp(logs[:, :, 0])
    phi = 1.0 if is_call else -1.0
    pay = df * xp.maximum(phi * (s_t - strike), 0.0)
    if not control_variate:
        return _mean_se(xp, _pair_mean(xp, pay, antithetic))
    vol = shadow_vol(v0, kappa, theta, expiry)
    steps = shadow_gbm_steps(z, times=times, spot=spot, r=r, q=q, vol=vol, rho=rho)
    g = deque(steps, maxlen=1)[0]  # only the shadow's terminal value matters here
    shadow = df * xp.maximum(phi * (xp.exp(g) - strike), 0.0)
    bs = black_scholes.price(is_call, _host(spot), strike, expiry, _host(r), _host(q), _host(vol))
    return martingale_cv(
        xp, pay, df * s_t, spot * xp.exp(-q * expiry), antithetic, ((shadow, xp.asarray(bs)),)
    )


def martingale_cv(
    xp: Any,
    pay: Array,
    control: Array,
    control_mean: Array,
    antithetic: bool,
    extra: tuple[tuple[Array, Array], ...] = (),
) -> tuple[Array, Array]:
    r"""Price and SE of the discounted payoffs ``pay`` (cols, paths) with a martingale control.

    ``control`` is a discounted spot (or an average of discounted spots) whose expectation
    ``control_mean`` (per column) follows from the martingale property alone, e.g.
    :math:`E[e^{-rT}S_T] = S_0e^{-qT}`. The estimator is :func:`_cv_mean_se` on the antithetic
    pair averages, :math:`ar Y - \hateta(ar G - E[G])`. It is unbiased only if the scheme
    itself is a martingale: QE-M is, exactly (:func:`heston_paths`); plain QE would add
    :math:`\hateta` times its forward error.
    """
    y = _pair_mean(xp, pay, antithetic)
    g = _pair_mean(xp, control, antithetic)
    if not extra:
        return _cv_mean_se(xp, y, g, control_mean)
    gs = [g] + [_pair_mean(xp, c, antithetic) for c, _ in extra]
    return _cv_multi_mean_se(xp, y, gs, [control_mean] + [m for _, m in extra])


def shadow_vol(v0: Array, kappa: float, theta: Array, expiry: float) -> Array:
    r"""The shadow GBM's vol per column: :math:`\bar\sigma^2 = \frac1T\int_0^T E[v_t]\,dt
    = \theta + (v_0 - \theta)\frac{1 - e^{-\kappa T}}{\kappa T}` (any positive value keeps the
    control unbiased; this one makes it track the Heston price closely)."""
    f = (1.0 - math.exp(-kappa * expiry)) / (kappa * expiry)
    return (theta + (v0 - theta) * f) ** 0.5


def shadow_gbm_steps(
    z: Array, *, times: np.ndarray, spot: Array, r: Array, q: Array, vol: Array, rho: float
) -> Iterator[Array]:
    r"""Log-spots (cols, paths) of a *shadow* GBM on the Heston grid, one step at a time.

    It is driven by the Heston path's own normals,
    :math:`\ln G' = \ln G + (r - q - \tfrac12\bar\sigma^2)\Delta
    + \bar\sigma\sqrt\Delta\,(\rho Z_v + \sqrt{1-\rho^2}\,Z_s)`, so it is an exact GBM
    (the increments are exactly normal) and a product's payoff on it has a closed-form mean —
    the Black–Scholes, geometric-Asian or continuous-barrier price — while moving with the
    Heston payoff path by path: a control variate whose mean needs no discretisation argument.
    """
    xp = array_namespace(z)
    n = len(times)
    dts = np.diff(np.concatenate([[0.0], times]))
    zt = _rows(xp, z)
    c = math.sqrt(1.0 - rho * rho)
    g = xp.log(spot)[:, None]
    drift = r - q - 0.5 * vol * vol
    for i in range(n):
        dt = float(dts[i])
        inc = rho * zt[i : i + 1, :] + c * zt[n + i : n + i + 1, :]  # (1, paths)
        g = g + (drift * dt)[:, None] + (vol * math.sqrt(dt))[:, None] * inc
        yield g


def _qe_variance(
    xp: Any, v: Array, zv: Array, dt: float, kappa: float, theta: Array, sigma: float, rho: float
) -> tuple[Array, Array]:
    r"""One QE variance step and :math:`\ln M` of the martingale correction (see
    :func:`heston_paths`), both (cols, paths). ``theta`` is per column."""
    e = math.exp(-kappa * dt)
    k2 = 0.5 * dt * (kappa * rho / sigma - 0.5) + rho / sigma
    a_coef = k2 + 0.25 * dt * (1.0 - rho * rho)  # A = K₂ + K₃/2
    th = theta[:, None]
    m = v * e + th * (1.0 - e)
    # 2/ψ = 2m²/s², from s²/2 (one pass fewer); ψ ≤ 1.5 ⇔ 2/ψ ≥ 4/3
    half_s2 = v * (0.5 * sigma * sigma * e * (1.0 - e) / kappa) + th * (
        sigma * sigma * (1.0 - e) ** 2 / (4.0 * kappa)
    )
    inv = (m * m) / half_s2
    big = inv < 4.0 / 3.0
    inv = xp.maximum(inv, 4.0 / 3.0)  # the quadratic branch on all, clipped (b² ≥ 1/3 > 0)
    b2 = inv - 1.0
    b2 = b2 + xp.sqrt(inv * b2)
    a = m / (1.0 + b2)
    v_new = xp.sqrt(b2) + zv
    v_new = a * (v_new * v_new)
    d = 1.0 - (2.0 * a_coef) * a  # > 0 whenever A ≤ 0
    if a_coef > 0.0:
        d = xp.where(d > 0.0, d, xp.nan)  # no M: the caller falls back to K₀ (NaN marks it)
    log_m = (a_coef * b2) * a / d - 0.5 * xp.log(d)
    if bool(xp.any(big)):  # exponential branch on its elements only
        pick, put = _subset(xp, big)
        mb = pick(m)
        psi = 2.0 * pick(half_s2) / (mb * mb)
        p_b = (psi - 1.0) / (psi + 1.0)
        beta = (1.0 - p_b) / mb
        u = _cdf(xp, pick(xp.broadcast_to(zv, v.shape)))
        put(
            v_new, xp.where(u <= p_b, 0.0, xp.log((1.0 - p_b) / xp.maximum(1.0 - u, 1e-300)) / beta)
        )
        if a_coef <= 0.0:  # β > 0 ≥ A: M always exists
            put(log_m, xp.log(p_b + beta * (1.0 - p_b) / (beta - a_coef)))
        else:
            ok = beta > a_coef
            m_exp = p_b + beta * (1.0 - p_b) / xp.where(ok, beta - a_coef, 1.0)
            put(log_m, xp.where(ok, xp.log(m_exp), xp.nan))
    return v_new, log_m


def _subset(xp: Any, mask: Array) -> tuple[Any, Any]:
    """Gather/scatter on the True elements of ``mask`` (same element order either way).

    NumPy: flat indices found once (a boolean-mask gather or scatter is a full pass each; an
    index one touches only the few elements); other namespaces: the boolean mask itself.
    """
    if is_numpy_namespace(xp):
        idx = np.flatnonzero(mask)
        shape = mask.shape

        def pick(a: Array) -> Array:
            return np.broadcast_to(a, shape).reshape(-1)[idx]

        def put(a: Array, values: Array) -> None:
            a.reshape(-1)[idx] = values  # a is a fresh C-contiguous array: reshape is a view

        return pick, put

    def pick_m(a: Array) -> Array:
        return a[mask]

    def put_m(a: Array, values: Array) -> None:
        a[mask] = values

    return pick_m, put_m


def _qe_log_spot(
    xp: Any,
    x: Array,
    v: Array,
    v_new: Array,
    log_m: Array,
    zs: Array,
    dt: float,
    carry: Array,
    kappa: float,
    theta: Array,
    sigma: float,
    rho: float,
) -> Array:
    r"""One QE-M log-spot step: :math:`x + (r-q)\Delta - \ln M - \tfrac12 K_3 v + K_2 v'
    + \sqrt{K_3(v + v')}Z_s` (the :math:`K_1 v` terms cancel in :math:`K_0^* + K_1 v`)."""
    k2 = 0.5 * dt * (kappa * rho / sigma - 0.5) + rho / sigma
    k3 = 0.5 * dt * (1.0 - rho * rho)
    # v, v' ≥ 0 by construction (both branches), so K₃(v + v') needs no floor
    diffusion = xp.sqrt(k3 * (v + v_new)) * zs
    corr = k2 * v_new - (log_m + (0.5 * k3) * v)
    # NaN only where A > 0 and M does not exist: those elements keep the uncorrected K₀
    if k2 + 0.5 * k3 > 0.0 and bool(xp.any(xp.isnan(log_m))):
        k0 = (-rho * kappa * dt / sigma) * theta[:, None]
        k1 = 0.5 * dt * (kappa * rho / sigma - 0.5) - rho / sigma
        plain = k0 + k1 * v + k2 * v_new
        corr = xp.where(xp.isnan(log_m), plain, corr)
    return x + (carry[:, None] * dt + corr) + diffusion


def _rows(xp: Any, z: Array) -> Array:
    """``z`` transposed to (dims, paths) with contiguous rows (one row per step)."""
    if is_numpy_namespace(xp):
        return np.ascontiguousarray(np.asarray(z).T)
    return xp.permute_dims(z, (1, 0))


def _cdf(xp: Any, x: Array) -> Array:
    """Standard normal CDF in the namespace of ``x``.

    The array API has no ``erf``: NumPy uses SciPy's ``ndtr``, CuPy its ``erf``
    (cupyx.scipy.special); any other namespace (array-api-strict in the tests) goes through
    NumPy on the host via DLPack and back.
    """
    import math

    if is_numpy_namespace(xp):
        return _normal.cdf(np.asarray(x))
    erf = getattr(xp, "erf", None)
    if erf is None and type(x).__module__.startswith("cupy"):
        from cupyx.scipy.special import erf  # type: ignore[no-redef]
    if erf is not None:
        return 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    host = np.from_dlpack(x)
    return xp.asarray(_normal.cdf(host))


def bridge_survival(log_a: Array, log_b: Array, var: Array, log_h: float, is_down: bool) -> Array:
    r"""Probability that a Brownian bridge from ``log_a`` to ``log_b`` (variance ``var``)
    stays on the safe side of ``log_h``: :math:`1 - \exp(-2(a-h)(b-h)/\mathrm{var})`."""
    xp = array_namespace(log_a)
    da, db = log_a - log_h, log_b - log_h
    safe = (da > 0) & (db > 0) if is_down else (da < 0) & (db < 0)
    p_cross = xp.exp(xp.where(safe, -2.0 * da * db / xp.maximum(var, 1e-300), 0.0))
    return xp.where(safe, 1.0 - p_cross, 0.0)


def lsm(
    z: Array,
    *,
    times: np.ndarray,
    is_call: bool,
    strike: float,
    spot: Array,
    r: Array,
    q: Array,
    vol: Array,
    antithetic: bool,
) -> tuple[Array, Array]:
    r"""Longstaff–Schwartz American price per column (exercise dates ``times``).

    Backward induction: at each date the continuation value of in-the-money paths is the
    least-squares fit of the discounted future cash flow on :math:`\{1, x, x^2\}`,
    :math:`x = S/K`; a path exercises when intrinsic > fitted continuation. The estimate is the
    mean discounted cash flow, floored at immediate exercise. Same-path regression: the
    estimator is low-biased (sub-optimal rule) with a small high in-sample bias; the net bias
    is measured against the PDE in the tests and reported in docs/risk.md.

    Array-API generic (NumPy, CuPy, any compliant namespace): the 3×3 normal equations of
    every column come from five power sums and one batched ``linalg.solve``.
    """
    xp = array_namespace(z)
    m = len(times)
    t = xp.asarray(times, dtype=xp.float64)
    # Brownian paths date-major (dates, paths); each date's spots and intrinsic values are built
    # inside the backward sweep, one (cols, paths) slice at a time: no (cols, dates, paths)
    # array, so a sweep stays in cache (and is as fast for 1 column as for many)
    w = _walk(xp, z, np.diff(np.concatenate([[0.0], times])))
    # x = S_t/K = exp(ln(S₀/K) + (r − q − σ²/2)t + σW_t)
    mu = xp.log(spot / strike)[:, None] + (r - q - 0.5 * vol * vol)[:, None] * t[None, :]
    # intrinsic discounted to today: K·max(±(x − 1), 0)·e^{−r t}
    disc = strike * xp.exp(-r[:, None] * t[None, :])  # (cols, dates)

    def at(j: int) -> tuple[Array, Array]:
        x_j = xp.exp(mu[:, j : j + 1] + vol[:, None] * w[j : j + 1, :])
        ex_j = xp.maximum((x_j - 1.0) if is_call else (1.0 - x_j), 0.0) * disc[:, j : j + 1]
        return x_j, ex_j

    phi = 1.0 if is_call else -1.0
    eye = xp.eye(3, dtype=xp.float64)
    # pv: each path's cash flow discounted to today. Regressing pv (rather than the cash flow
    # discounted to t_j) scales the fit by e^{-r t_j} and leaves the exercise rule unchanged.
    pv = at(m - 1)[1]
    n_cols = spot.shape[0]
    pick = xp.asarray([0, 1, 2, 1, 2, 3, 2, 3, 4])  # AᵀA[i, k] = Σ x^(i+k)
    for j in range(m - 2, -1, -1):
        x_j, ex_j = at(j)
        itm = xp.astype(ex_j > 0.0, xp.float64)
        x1 = x_j * itm  # basis {1, x, x²} on the in-the-money paths, 0 elsewhere
        x2 = x1 * x1
        # normal equations from power sums over contiguous paths (a column's fit does not
        # depend on the other columns in the call)
        x3 = x2 * x1
        sums = xp.stack(
            [xp.sum(a, axis=-1) for a in (itm, x1, x2, x3, x3 * x1, pv * itm, pv * x1, pv * x2)],
            axis=-1,
        )  # (cols, 8): the five power sums, then the three right-hand sides
        ata = xp.reshape(xp.take(sums, pick, axis=1), (n_cols, 3, 3))
        ok = sums[:, 0] >= 3.0  # a fit needs three in-the-money paths
        ata = xp.where(ok[:, None, None], ata, eye)
        coef = xp.linalg.solve(ata, sums[:, 5:8, None])[:, :, 0]
        # fitted continuation (0 out of the money, where the intrinsic is 0: never exercised)
        cont = coef[:, 0:1] * itm + coef[:, 1:2] * x1 + coef[:, 2:3] * x2
        exercise = ex_j > cont
        if not bool(xp.all(ok)):  # no fit in some column: it never exercises at this date
            exercise = exercise & ok[:, None]
        pv = xp.where(exercise, ex_j, pv)
    price, se = _mean_se(xp, _pair_mean(xp, pv, antithetic))
    intrinsic = xp.maximum(phi * (spot - strike), 0.0)
    return xp.maximum(price, intrinsic), se
