r"""Exotic positions: their parameters and one pricing entry point per market state column.

Types (per unit of ``quantity``, in the payoff currency; equity or FX underlyings alike):

``asian_option``
    Arithmetic or geometric average of the underlying over the fixing dates; average-price
    (payoff :math:`(\pm(A - K))^+`) or average-strike (:math:`(\pm(S_T - A))^+`). Fixings before
    the valuation date are known values; future ones are simulated. Geometric average-price:
    closed form (:mod:`riskgrid.risk.asian`); everything else Monte Carlo (BSM or Heston).
``barrier_option``
    Up/down, in/out, call/put with rebate. Continuous monitoring under BSM: closed form
    (:mod:`riskgrid.risk.barrier`); discrete monitoring: Monte Carlo exact at the monitoring
    dates (``method: mc``, default) or the BGK-shifted closed form (``method: analytic``).
    Under Heston: QE Monte Carlo, with a Brownian-bridge crossing probability between steps
    for continuous monitoring. ``knocked: true`` records a barrier touched in the past: a
    knock-in is then the vanilla, a knock-out is worth nothing.
``american_option``
    PDE (Crank–Nicolson, Rannacher start; the default), Barone-Adesi–Whaley or
    Longstaff–Schwartz Monte Carlo, selected per job (``pricing.american.method``).
``equity_option`` / ``fx_option`` with ``model: heston``
    Lewis semi-analytic price under the underlying's Heston parameters.

Rates inside a position are flat at the zero rate to expiry (domestic :math:`r`, dividend /
foreign :math:`q`). Scenario and bumped vols reach Heston positions as a multiplier of both
:math:`v_0` and :math:`\theta` by :math:`(\sigma/\sigma_{ref})^2`, where :math:`\sigma` is the
state's Black vol and :math:`\sigma_{ref}` the position's base Black vol.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from array_api_compat import array_namespace

from riskgrid.risk import american, asian, barrier, black_scholes, exotic_mc, heston, rng

EXOTIC_KINDS: tuple[str, ...] = ("asian_option", "barrier_option", "american_option")
#: Bytes per simulated (column, path, step) a kernel keeps alive at once (≈ 8 float64 arrays).
BYTES_PER_PATH_STEP = 64
#: Bytes per path of one Heston column: the QE-M step's (cols, paths) temporaries and the
#: payoff's running sums (≈ 32 float64 arrays), independent of the number of steps.
HESTON_BYTES_PER_PATH = 256
#: One QE-M step as ``exotic_mc.heston_steps`` yields it: (index, log-spots, variances).
Step = tuple[int, Any, Any]
#: Target kernel arrays per call (columns per chunk), below the per-worker memory bound: about
#: one core's share of a server's L3 (here 32 MiB shared by 2 cores), so that every worker's
#: chunk stays in cache at once. 48 MiB chunks let two workers evict each other: 1 → 2 workers
#: ran at 85.8% efficiency (minima) against 93.4% with 6 MiB (D-#11.27).
CHUNK_BYTES = 6 << 20


@dataclass(frozen=True)
class PricingSettings:
    """Job-wide numerical settings (``spec.pricing``)."""

    seed: int = 0
    paths: int = 8192
    steps_per_year: int = 52
    antithetic: bool = True
    control_variate: bool = True
    sampling: str = "pseudo"  # or "sobol"
    sobol_replicates: int = 8
    american_method: str = "pde"
    pde_space_nodes: int = 201
    pde_time_steps: int = 100
    lsm_steps: int = 50
    memory_bytes: int = 1 << 30
    #: ``cpu`` (NumPy) or ``gpu`` (CuPy; BSM Asian and discrete-barrier kernels only)
    device: str = "cpu"


@dataclass(frozen=True)
class ExoticSpec:
    """One position's product parameters (times in years from the valuation date)."""

    kind: str  # an EXOTIC_KINDS entry, or "heston_european"
    position_id: str
    is_call: bool
    strike: float
    t: float
    model: str = "bsm"
    heston: heston.HestonParams | None = None
    ref_vol: float = 0.0
    # asian
    geometric: bool = False
    average_strike: bool = False
    fix_times: tuple[float, ...] = ()
    n_total: int = 0
    past_sum: float = 0.0
    past_log_sum: float = 0.0
    # barrier
    barrier: float = 0.0
    is_down: bool = True
    is_in: bool = False
    rebate: float = 0.0
    monitor_times: tuple[float, ...] | None = None  # None = continuous
    barrier_method: str = "mc"
    knocked: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> int:
        return rng.position_key(self.position_id)


def is_mc(spec: ExoticSpec, s: PricingSettings) -> bool:
    """Whether the position is priced by Monte Carlo (has a standard error)."""
    if spec.kind == "asian_option":
        if not spec.fix_times and not spec.average_strike:
            return False  # every fixing is past: the payoff is known
        return spec.model == "heston" or not (spec.geometric and not spec.average_strike)
    if spec.kind == "barrier_option":
        if spec.knocked:
            return False
        return spec.model == "heston" or (
            spec.monitor_times is not None and spec.barrier_method == "mc"
        )
    if spec.kind == "american_option":
        return s.american_method == "lsm"
    return False


def sim_steps(spec: ExoticSpec, s: PricingSettings) -> int:
    """Time steps of the position's paths (0 for closed forms)."""
    if not is_mc(spec, s):
        if spec.kind == "american_option" and s.american_method == "pde":
            return s.pde_time_steps
        return 0
    if spec.kind == "american_option":
        return s.lsm_steps
    return len(_grid(spec, s))


def cost_units(spec: ExoticSpec, s: PricingSettings) -> float:
    """Relative cost of one valuation (a vanilla Black–Scholes valuation = 1).

    Rough per-unit costs measured on one core (NumPy 2, 2020s x86): a GBM path-step ≈ 0.15
    Black–Scholes valuations, a Heston QE or LSM path-step ≈ 1, a PDE node-step ≈ 0.4, a Lewis
    price ≈ 1000, a barrier/geometric closed form ≈ 20, BAW ≈ 100. The planner only needs the
    ratios; a calibrated run measures the absolute scale.
    """
    if is_mc(spec, s):
        heavy = spec.model == "heston" or spec.kind == "american_option"
        return (1.0 if heavy else 0.15) * s.paths * max(sim_steps(spec, s), 1)
    if spec.kind == "american_option":
        if s.american_method == "pde":
            return 0.4 * s.pde_space_nodes * s.pde_time_steps
        return 100.0
    if spec.kind == "heston_european":
        return 1000.0
    return 20.0


def kernel_bytes(memory_bytes: int) -> int:
    """The share of the per-worker memory bound a kernel call may fill (15/16: the rest is
    for the task's result block and the closed-form rows)."""
    return memory_bytes - memory_bytes // 16


def column_bytes(spec: ExoticSpec, s: PricingSettings) -> int:
    """Kernel memory for one state column of a Monte Carlo position (0 for closed forms).

    GBM and LSM kernels hold (cols, paths, steps) arrays: :data:`BYTES_PER_PATH_STEP` × paths
    × steps. Heston payoffs are accumulated step by step (``exotic_mc.heston_steps``), so a
    column holds :data:`HESTON_BYTES_PER_PATH` × paths whatever the steps; the position's
    normals (16 B per path-step) are counted with every column, which over-states a chunk of
    many columns but keeps the bound safe.
    """
    if not is_mc(spec, s):
        return 0
    steps = len(_grid(spec, s)) if spec.kind != "american_option" else s.lsm_steps
    if spec.model == "heston":
        return s.paths * (HESTON_BYTES_PER_PATH + 16 * max(steps, 1))
    return BYTES_PER_PATH_STEP * s.paths * max(steps, 1)


def _grid(spec: ExoticSpec, s: PricingSettings) -> np.ndarray:
    """Simulation dates: the product's dates, refined to ``steps_per_year`` under Heston."""
    if spec.kind == "asian_option":
        dates = np.array(spec.fix_times if spec.fix_times else (spec.t,))
        if spec.average_strike or spec.fix_times[-1:] != (spec.t,):
            dates = np.union1d(dates, [spec.t])
    elif spec.kind == "barrier_option" and spec.monitor_times is not None:
        dates = np.union1d(np.array(spec.monitor_times), [spec.t])
    else:
        dates = np.array([spec.t])
    if spec.model == "heston" or (spec.kind == "barrier_option" and spec.monitor_times is None):
        n = max(1, math.ceil(s.steps_per_year * spec.t))
        dates = np.union1d(dates, np.linspace(0.0, spec.t, n + 1)[1:])
    return dates[dates > 0]


#: The last pseudo-random draw, reused by the next column chunk of the same position
#: (one entry: a process prices one position's chunks back to back).
_LAST_DRAW: dict[tuple[int, int, int, int, bool], np.ndarray] = {}


def _pseudo(s: PricingSettings, key: int, dims: int, antithetic: bool) -> np.ndarray:
    k = (s.seed, key, s.paths, dims, antithetic)
    z = _LAST_DRAW.get(k)
    if z is None:
        z = rng.normals(s.seed, key, s.paths, dims, antithetic=antithetic)
        _LAST_DRAW.clear()
        _LAST_DRAW[k] = z
    return z


def _normals(spec: ExoticSpec, s: PricingSettings, dims: int, replicate: int = 0) -> np.ndarray:
    if s.sampling == "sobol":
        z = rng.sobol_normals(s.seed, spec.key, s.paths, dims, replicate)
        return z
    return _pseudo(s, spec.key, dims, s.antithetic)


def price(
    spec: ExoticSpec,
    s: PricingSettings,
    spot: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(price, standard error) per column of the 1-D state arrays; SE is 0 for closed forms.

    Monte Carlo columns are processed in chunks so that one chunk's live arrays stay within
    :func:`kernel_bytes` of ``s.memory_bytes`` (:data:`BYTES_PER_PATH_STEP` per column × path
    × step).
    """
    spot, r, q, vol = (np.ascontiguousarray(a, dtype=np.float64) for a in (spot, r, q, vol))
    zero = np.zeros_like(spot)
    if not is_mc(spec, s):
        return _closed_form(spec, s, spot, r, q, vol), zero
    # cache-sized chunks (≤ CHUNK_BYTES of kernel arrays, within the memory bound): a 1 GiB
    # kernel call streams its temporaries through memory, and two workers then share the
    # memory bandwidth; the normals are drawn once per position (rng's cache), not per chunk
    chunk = max(1, min(kernel_bytes(s.memory_bytes), CHUNK_BYTES) // column_bytes(spec, s))
    out_p, out_se = np.empty_like(spot), np.empty_like(spot)
    try:
        for c0 in range(0, spot.size, chunk):
            sl = slice(c0, c0 + chunk)
            out_p[sl], out_se[sl] = _mc(spec, s, spot[sl], r[sl], q[sl], vol[sl])
    finally:
        _LAST_DRAW.clear()  # no draw outlives the position (memory bound)
    return out_p, out_se


def _closed_form(
    spec: ExoticSpec,
    s: PricingSettings,
    spot: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
) -> np.ndarray:
    if spec.kind == "heston_european":
        assert spec.heston is not None
        scale = (vol / spec.ref_vol) ** 2
        return heston.european(spec.is_call, spot, spec.strike, spec.t, r, q, spec.heston, scale)
    if spec.kind == "asian_option" and not spec.fix_times:  # all fixings past: known payoff
        avg = (
            math.exp(spec.past_log_sum / spec.n_total)
            if spec.geometric
            else spec.past_sum / spec.n_total
        )
        phi = 1.0 if spec.is_call else -1.0
        return np.exp(-r * spec.t) * max(phi * (avg - spec.strike), 0.0)
    if spec.kind == "asian_option":  # geometric average-price
        times = np.array(spec.fix_times)
        return asian.geometric_price(
            spec.is_call,
            spot,
            spec.strike,
            times,
            spec.t,
            r,
            q,
            vol,
            n_total=spec.n_total,
            past_log_sum=spec.past_log_sum,
        )
    if spec.kind == "barrier_option":
        if spec.knocked:
            if spec.is_in:
                return black_scholes.price(spec.is_call, spot, spec.strike, spec.t, r, q, vol)
            return np.zeros_like(spot)
        h = np.full_like(spot, spec.barrier)
        if spec.monitor_times is not None:  # BGK continuity correction, mean monitoring step
            dt = spec.t / len(spec.monitor_times)
            h = barrier.bgk_barrier(h, spec.is_down, vol, dt)
        return barrier.price(
            spec.is_call,
            spec.is_down,
            spec.is_in,
            spot,
            spec.strike,
            h,
            spec.rebate,
            spec.t,
            r,
            q,
            vol,
        )
    if spec.kind == "american_option":
        if s.american_method == "baw":
            return american.baw(spec.is_call, spot, spec.strike, spec.t, r, q, vol)
        return american.pde(
            spec.is_call,
            spot,
            spec.strike,
            spec.t,
            r,
            q,
            vol,
            space_nodes=s.pde_space_nodes,
            time_steps=s.pde_time_steps,
        )
    raise ValueError(f"no closed form for {spec.kind}")


def _mc(
    spec: ExoticSpec,
    s: PricingSettings,
    spot: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    if s.sampling == "sobol" and spec.model == "bsm" and spec.kind != "american_option":
        # randomised QMC: independent scrambles, SE from the spread of replicate means
        reps = [
            _mc_once(spec, s, spot, r, q, vol, replicate=k)[0] for k in range(s.sobol_replicates)
        ]
        arr = np.stack(reps)
        return arr.mean(axis=0), arr.std(axis=0, ddof=1) / math.sqrt(len(reps))
    return _mc_once(spec, s, spot, r, q, vol, replicate=0)


def _mc_once(
    spec: ExoticSpec,
    s: PricingSettings,
    spot: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
    *,
    replicate: int,
) -> tuple[np.ndarray, np.ndarray]:
    anti = s.antithetic and s.sampling != "sobol"
    if spec.kind == "american_option":
        times = np.linspace(0.0, spec.t, s.lsm_steps + 1)[1:]
        z = _normals(spec, s, len(times))
        args = (z, spot, r, q, vol)
        if s.device == "gpu":
            import cupy  # optional extra `gpu`; the CLI checks it is importable

            args = tuple(cupy.asarray(a) for a in args)
        price_d, se_d = exotic_mc.lsm(
            args[0],
            times=times,
            is_call=spec.is_call,
            strike=spec.strike,
            spot=args[1],
            r=args[2],
            q=args[3],
            vol=args[4],
            antithetic=anti,
        )
        return exotic_mc._host(price_d), exotic_mc._host(se_d)
    grid = _grid(spec, s)
    if spec.model == "heston":
        return _heston_mc(spec, s, grid, spot, r, q, vol)
    dims = len(grid)
    z = _normals(spec, s, dims, replicate)
    if s.sampling == "sobol":
        z = np.diff(rng.brownian_bridge(z, grid), prepend=0.0, axis=1) / np.sqrt(
            np.diff(grid, prepend=0.0)
        )
    if s.device == "gpu" and (spec.kind == "barrier_option" or len(grid) == len(spec.fix_times)):
        import cupy  # optional extra `gpu`; the CLI checks it is importable

        on_gpu = [cupy.asarray(a) for a in (z, spot, r, q, vol)]
        price_d, se_d = _bsm_kernel(spec, grid, *on_gpu, anti=anti, cv=s.control_variate)
        return cupy.asnumpy(price_d), cupy.asnumpy(se_d)
    if spec.kind == "asian_option" and len(grid) != len(spec.fix_times):
        return _asian_on_grid(spec, z, grid, spot, r, q, vol, anti)
    return _bsm_kernel(spec, grid, z, spot, r, q, vol, anti=anti, cv=s.control_variate)


def _bsm_kernel(
    spec: ExoticSpec,
    grid: np.ndarray,
    z: Any,
    spot: Any,
    r: Any,
    q: Any,
    vol: Any,
    *,
    anti: bool,
    cv: bool,
) -> tuple[Any, Any]:
    """The array-API kernels (NumPy or CuPy arrays alike)."""
    if spec.kind == "asian_option":
        return exotic_mc.asian(
            z,
            times=grid,
            expiry=spec.t,
            is_call=spec.is_call,
            geometric=spec.geometric,
            average_strike=spec.average_strike,
            strike=spec.strike,
            past_sum=spec.past_sum,
            past_log_sum=spec.past_log_sum,
            n_total=spec.n_total,
            spot=spot,
            r=r,
            q=q,
            vol=vol,
            antithetic=anti,
            control_variate=cv,
        )
    return exotic_mc.barrier_discrete(
        z,
        times=grid,
        expiry=spec.t,
        is_call=spec.is_call,
        is_down=spec.is_down,
        is_in=spec.is_in,
        strike=spec.strike,
        barrier=spec.barrier,
        rebate=spec.rebate,
        spot=spot,
        r=r,
        q=q,
        vol=vol,
        antithetic=anti,
    )


def _asian_payoff(
    spec: ExoticSpec, s_paths: np.ndarray, fix_idx: np.ndarray, df: np.ndarray
) -> npt.NDArray[np.float64]:
    """Discounted Asian payoff from spots on a grid (cols, paths, steps)."""
    phi = 1.0 if spec.is_call else -1.0
    fx = s_paths[:, :, fix_idx]
    if spec.geometric:
        avg = np.exp((spec.past_log_sum + np.log(fx).sum(axis=-1)) / spec.n_total)
    else:
        avg = (spec.past_sum + fx.sum(axis=-1)) / spec.n_total
    under = s_paths[:, :, -1] - avg if spec.average_strike else avg - spec.strike
    result: npt.NDArray[np.float64] = df[:, None] * np.maximum(phi * under, 0.0)
    return result


def _asian_on_grid(
    spec: ExoticSpec,
    z: np.ndarray,
    grid: np.ndarray,
    spot: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
    anti: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Asian whose simulation grid has dates besides the fixings (e.g. average-strike)."""
    paths = exotic_mc.gbm_at(z, grid, spot, r, q, vol)
    idx = np.searchsorted(grid, np.array(spec.fix_times))
    pay = _asian_payoff(spec, paths, idx, np.exp(-r * spec.t))
    return exotic_mc._mean_se(np, exotic_mc._pair_mean(np, pay, anti))


def _heston_mc(
    spec: ExoticSpec,
    s: PricingSettings,
    grid: np.ndarray,
    spot: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Heston Asian or barrier by QE-M on the host or, with ``device: gpu``, on CuPy; only
    the price and SE come back to the host."""
    assert spec.heston is not None
    hp = spec.heston
    scale = (vol / spec.ref_vol) ** 2
    z = _pseudo(s, spec.key, 2 * len(grid), s.antithetic)
    args: tuple[Any, ...] = (z, spot, r, q, hp.v0 * scale, hp.theta * scale)
    if s.device == "gpu":
        import cupy  # optional extra `gpu`; the CLI checks it is importable

        args = tuple(cupy.asarray(a) for a in args)
    price_d, se_d = heston_kernel(spec, s, grid, *args)
    return exotic_mc._host(price_d), exotic_mc._host(se_d)


def heston_kernel(
    spec: ExoticSpec,
    s: PricingSettings,
    grid: np.ndarray,
    z: Any,
    spot: Any,
    r: Any,
    q: Any,
    v0: Any,
    theta: Any,
) -> tuple[Any, Any]:
    """Heston Asian or barrier by QE-M in the arrays' namespace (array API), the payoff
    accumulated step by step (no path array); ``v0``/``theta`` per column."""
    assert spec.heston is not None
    hp = spec.heston
    steps = exotic_mc.heston_steps(
        z, times=grid, spot=spot, r=r, q=q, v0=v0, kappa=hp.kappa, theta=theta,
        sigma=hp.sigma, rho=hp.rho,
    )  # fmt: skip
    # the shadow GBM (same normals, closed-form mean) for the products that have a closed form
    # under GBM: average-price Asians, continuously monitored barriers
    shadow = None
    if s.control_variate and (
        (spec.kind == "asian_option" and not spec.average_strike)
        or (spec.kind == "barrier_option" and spec.monitor_times is None)
    ):
        vol_g = exotic_mc.shadow_vol(v0, hp.kappa, theta, spec.t)
        shadow = exotic_mc.shadow_gbm_steps(
            z, times=grid, spot=spot, r=r, q=q, vol=vol_g, rho=hp.rho
        )
    else:
        vol_g = None
    both: Iterator[tuple[Step, Any]] = (
        zip(steps, shadow, strict=True) if shadow is not None else ((st, None) for st in steps)
    )
    if spec.kind == "asian_option":
        return _heston_asian(spec, s, grid, both, spot, r, q, vol_g)
    return _heston_barrier(spec, s, grid, both, spot, r, q, v0, vol_g)


def _heston_asian(
    spec: ExoticSpec,
    s: PricingSettings,
    grid: np.ndarray,
    steps: Iterator[tuple[Step, Any]],
    spot: Any,
    r: Any,
    q: Any,
    vol_g: Any,
) -> tuple[Any, Any]:
    """Asian payoff from running sums of the fixings (and their logs for a geometric one).

    Controls (``controlVariate``): the discounted mean of the simulated fixings (martingale),
    and — average-price only, ``vol_g`` given — the geometric Asian on the shadow GBM, whose
    mean is :func:`riskgrid.risk.asian.geometric_price` at the shadow vol.
    """
    xp = array_namespace(spot)
    fix_t = np.array(spec.fix_times)
    weight = Counter(int(i) for i in np.searchsorted(grid, fix_t))  # fixings per grid step
    total = log_total = s_t = g_log_total = xp.zeros((spot.shape[0], 1), dtype=xp.float64)
    for (i, x, _v), g in steps:
        if i in weight:
            total = total + weight[i] * xp.exp(x)
            if spec.geometric:
                log_total = log_total + weight[i] * x
            if g is not None:
                g_log_total = g_log_total + weight[i] * g
        s_t = x
    s_t = xp.exp(s_t)
    if spec.geometric:
        avg = xp.exp((spec.past_log_sum + log_total) / spec.n_total)
    else:
        avg = (spec.past_sum + total) / spec.n_total
    phi = 1.0 if spec.is_call else -1.0
    under = s_t - avg if spec.average_strike else avg - spec.strike
    df = xp.exp(-r * spec.t)
    pay = df[:, None] * xp.maximum(phi * under, 0.0)
    if not s.control_variate:
        return exotic_mc._mean_se(xp, exotic_mc._pair_mean(xp, pay, s.antithetic))
    # martingale control: the discounted mean of the simulated fixings; its mean, e^{-rT}·mean
    # of the forwards S₀e^{(r−q)t_i}, is exact under QE-M
    g_mart = df[:, None] * total / len(fix_t)
    fwd = xp.exp((r - q)[:, None] * xp.asarray(fix_t, dtype=xp.float64)[None, :])
    g_mean = df * spot * xp.mean(fwd, axis=-1)
    extra: tuple[tuple[Any, Any], ...] = ()
    if vol_g is not None:
        geo = xp.exp((spec.past_log_sum + g_log_total) / spec.n_total)
        shadow = df[:, None] * xp.maximum(phi * (geo - spec.strike), 0.0)
        h = exotic_mc._host
        exact = asian.geometric_price(
            spec.is_call, h(spot), spec.strike, fix_t, spec.t, h(r), h(q), h(vol_g),
            n_total=spec.n_total, past_log_sum=spec.past_log_sum,
        )  # fmt: skip
        extra = ((shadow, xp.asarray(exact)),)
    return exotic_mc.martingale_cv(xp, pay, g_mart, g_mean, s.antithetic, extra)


def _heston_barrier(
    spec: ExoticSpec,
    s: PricingSettings,
    grid: np.ndarray,
    steps: Iterator[tuple[Step, Any]],
    spot: Any,
    r: Any,
    q: Any,
    v0: Any,
    vol_g: Any,
) -> tuple[Any, Any]:
    """Barrier payoff from a running survival probability.

    Continuous monitoring: each step multiplies in the Brownian-bridge survival of the step
    (variance the step's mean variance × Δt); discrete: survival drops to 0 at a monitoring
    date beyond the barrier. A knock-out rebate is paid at the step of the first touch:
    Σ (survival before − after) · e^{−r t}. Controls (``controlVariate``): the discounted
    terminal spot (martingale) and — continuous monitoring, ``vol_g`` given — the same barrier
    without rebate on the shadow GBM (bridge survival with variance σ̄²Δt, exact for a GBM),
    whose mean is the Reiner–Rubinstein price at the shadow vol.
    """
    xp = array_namespace(spot)
    log_h = math.log(spec.barrier)
    dts = np.diff(grid, prepend=0.0)
    mon = None
    if spec.monitor_times is not None:
        mon = set(np.flatnonzero(np.isin(grid, spec.monitor_times)).tolist())
    shape = (spot.shape[0], 1)
    surv = surv_g = xp.ones(shape, dtype=xp.float64)
    rebate = xp.zeros(shape, dtype=xp.float64)
    x_prev, v_prev = xp.log(spot)[:, None], v0[:, None]
    g_prev = x_prev
    for (i, x, v), g in steps:
        if mon is None:
            var = 0.5 * (v_prev + v) * float(dts[i])
            step = exotic_mc.bridge_survival(x_prev, x, var, log_h, spec.is_down)
            if g is not None:
                var_g = (vol_g * vol_g * float(dts[i]))[:, None]
                surv_g = surv_g * exotic_mc.bridge_survival(g_prev, g, var_g, log_h, spec.is_down)
                g_prev = g
        elif i in mon:
            beyond = (x <= log_h) if spec.is_down else (x >= log_h)
            step = xp.astype(~beyond, xp.float64)  # survival: 0 beyond the barrier
        else:
            step = None
        if step is not None:
            after = surv * step
            if not spec.is_in and spec.rebate != 0.0:
                rebate = rebate + (surv - after) * xp.exp(-r * float(grid[i]))[:, None]
            surv = after
        x_prev, v_prev = x, v
    phi = 1.0 if spec.is_call else -1.0
    df = xp.exp(-r * spec.t)[:, None]
    s_t = xp.exp(x_prev)
    vanilla = df * xp.maximum(phi * (s_t - spec.strike), 0.0)
    if spec.is_in:
        pay = (1.0 - surv) * vanilla + surv * df * spec.rebate
    else:
        pay = surv * vanilla + spec.rebate * rebate
    if not s.control_variate:
        return exotic_mc._mean_se(xp, exotic_mc._pair_mean(xp, pay, s.antithetic))
    extra: tuple[tuple[Any, Any], ...] = ()
    if vol_g is not None:
        vanilla_g = df * xp.maximum(phi * (xp.exp(g_prev) - spec.strike), 0.0)
        shadow = (1.0 - surv_g) * vanilla_g if spec.is_in else surv_g * vanilla_g
        h = exotic_mc._host
        exact = barrier.price(
            spec.is_call, spec.is_down, spec.is_in, h(spot), spec.strike, spec.barrier, 0.0,
            spec.t, h(r), h(q), h(vol_g),
        )  # fmt: skip
        extra = ((shadow, xp.asarray(exact)),)
    # martingale control: E[e^{-rT}S_T] = S₀e^{-qT} (exact under QE-M)
    s_mean = spot * xp.exp(-q * spec.t)
    return exotic_mc.martingale_cv(xp, pay, df * s_t, s_mean, s.antithetic, extra)


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def schedule_back(end: dt.date, count: int, frequency: str) -> list[dt.date]:
    """``count`` dates ending at ``end``, ``frequency`` (``3D``, ``1W``, ``1M``, ``1Y``) apart.

    Calendar arithmetic (no holiday calendar): months clamp to the month's last day.
    """
    n, unit = int(frequency[:-1]), frequency[-1]
    out = []
    for k in range(count - 1, -1, -1):
        if unit == "D":
            out.append(end - dt.timedelta(days=n * k))
        elif unit == "W":
            out.append(end - dt.timedelta(weeks=n * k))
        else:
            out.append(_add_months(end, -n * k * (12 if unit == "Y" else 1)))
    return out


def rolled(spec: ExoticSpec, days: float, spot: float) -> ExoticSpec:
    """``spec`` as of ``days`` calendar days later (theta's constant-maturity roll).

    Every time shortens by days/365; Asian fixings that fall inside the horizon become past
    fixings at today's ``spot`` (spots are held under the roll convention); barrier
    monitoring dates inside the horizon are dropped (spot held: no knock event). A spec that
    expires inside the horizon keeps ``t <= 0``; the caller values it at expiry.
    """
    tau = days / 365.0
    fix = [f - tau for f in spec.fix_times]
    fixed_now = [f for f in fix if f <= 0.0]
    mon = None
    if spec.monitor_times is not None:
        mon = tuple(m - tau for m in spec.monitor_times if m - tau > 0.0)
    return dataclasses.replace(
        spec,
        t=spec.t - tau,
        fix_times=tuple(f for f in fix if f > 0.0),
        past_sum=spec.past_sum + spot * len(fixed_now),
        past_log_sum=spec.past_log_sum + math.log(spot) * len(fixed_now),
        monitor_times=mon,
    )


def value_at_expiry(spec: ExoticSpec, spot: float) -> float:
    """Per-unit payoff of a position whose expiry fell inside a theta horizon (spot held).

    Asians: remaining fixings fix at ``spot``; barriers: no knock event while the spot is held,
    so a knock-in that has not knocked in pays its rebate and a live knock-out the vanilla
    payoff; Americans and Heston Europeans: the intrinsic value.
    """
    phi = 1.0 if spec.is_call else -1.0
    if spec.kind == "asian_option":
        k = len(spec.fix_times)
        if spec.geometric:
            avg = math.exp((spec.past_log_sum + k * math.log(spot)) / spec.n_total)
        else:
            avg = (spec.past_sum + k * spot) / spec.n_total
        under = spot - avg if spec.average_strike else avg - spec.strike
        return max(phi * under, 0.0)
    vanilla = max(phi * (spot - spec.strike), 0.0)
    if spec.kind == "barrier_option":
        if spec.knocked:
            return vanilla if spec.is_in else 0.0
        return spec.rebate if spec.is_in else vanilla
    return vanilla
