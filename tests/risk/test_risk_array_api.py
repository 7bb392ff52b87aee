"""The Monte Carlo kernels are array-API clean: run against ``array-api-strict`` (a namespace
that rejects anything outside the standard: NumPy-only functions, implicit conversions, mixed
devices) and compare with the NumPy run. Normals come from NumPy (keyed SFC64) on the host and are
moved into the namespace, as ``--device gpu`` does with CuPy (no GPU here: docs/risk.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from riskgrid.risk import exotic_mc, rng

xps = pytest.importorskip("array_api_strict")

T = 0.75
COLS = {"spot": [100.0, 97.0, 104.0], "r": [0.03, 0.031, 0.029], "q": [0.01] * 3}


def _states(xp: Any, vol: list[float]) -> dict[str, Any]:
    out = {k: np.array(v) for k, v in COLS.items()} | {"vol": np.array(vol)}
    return {k: xp.asarray(v) for k, v in out.items()} if xp is not np else out


def _host(a: Any) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else np.from_dlpack(a)


def _both(fn: Any, z: np.ndarray, **kw: Any) -> tuple[tuple[np.ndarray, ...], tuple[Any, ...]]:
    ours = fn(z, **kw, **_states(np, [0.2, 0.25, 0.3]))
    strict = fn(xps.asarray(z), **kw, **_states(xps, [0.2, 0.25, 0.3]))
    return ours, strict


def _assert_same(ours: tuple, strict: tuple) -> None:
    for a, b in zip(ours, strict, strict=True):
        assert not isinstance(b, np.ndarray)  # stayed in the strict namespace
        np.testing.assert_allclose(_host(b), a, rtol=1e-12, atol=1e-14)


def test_lsm_kernel_runs_on_array_api_strict() -> None:
    times = np.linspace(0.0, T, 21)[1:]
    z = rng.normals(5, 17, 2048, len(times), antithetic=True)
    ours, strict = _both(exotic_mc.lsm, z, times=times, is_call=False, strike=100.0,
                         antithetic=True)  # fmt: skip
    _assert_same(ours, strict)
    assert (ours[1] > 0).all()


def test_heston_qe_kernel_runs_on_array_api_strict() -> None:
    """Both QE branches are taken (σ large, v₀ small: ψ > 1.5 on many paths)."""
    times = np.linspace(0.0, T, 19)[1:]
    z = rng.normals(5, 18, 1024, 2 * len(times), antithetic=True)
    kw = {"kappa": 1.2, "sigma": 0.9, "rho": -0.6}
    ours = exotic_mc.heston_paths(
        z, times=times, v0=np.full(3, 0.01), theta=np.full(3, 0.04), **kw,
        **{k: np.array(v) for k, v in COLS.items()},
    )  # fmt: skip
    strict = exotic_mc.heston_paths(
        xps.asarray(z), times=times, v0=xps.full(3, 0.01, dtype=xps.float64),
        theta=xps.full(3, 0.04, dtype=xps.float64), **kw,
        **{k: xps.asarray(np.array(v)) for k, v in COLS.items()},
    )  # fmt: skip
    _assert_same(ours, strict)
    assert (ours[1] == 0.0).any() and (ours[1] > 0.0).any()  # the exponential branch's mass at 0


def test_asian_and_barrier_kernels_run_on_array_api_strict() -> None:
    times = np.linspace(0.0, T, 13)[1:]
    z = rng.normals(5, 19, 2048, len(times), antithetic=True)
    common = {"times": times, "expiry": T, "strike": 100.0, "antithetic": True}
    ours, strict = _both(
        exotic_mc.asian, z, is_call=True, geometric=False, average_strike=False, past_sum=0.0,
        past_log_sum=0.0, n_total=12, control_variate=True, **common,
    )  # fmt: skip
    _assert_same(ours, strict)
    for rebate in (0.0, 2.0):
        ours, strict = _both(
            exotic_mc.barrier_discrete, z, is_call=True, is_down=True, is_in=False,
            barrier=90.0, rebate=rebate, **common,
        )  # fmt: skip
        _assert_same(ours, strict)


@pytest.mark.parametrize(
    "kind",
    [
        {
            "kind": "asian_option",
            "fix_times": (0.25, 0.5, 0.75),
            "n_total": 4,
            "past_sum": 99.0,
            "past_log_sum": 4.595,
        },
        {
            "kind": "barrier_option",
            "barrier": 120.0,
            "is_down": False,
            "is_in": False,
            "rebate": 1.0,
        },
        {
            "kind": "barrier_option",
            "barrier": 90.0,
            "is_down": True,
            "is_in": True,
            "monitor_times": (0.25, 0.5, 0.75),
        },
    ],
    ids=["asian", "up-out-continuous", "down-in-discrete"],
)
def test_heston_products_with_both_controls_run_on_array_api_strict(kind: dict) -> None:
    """The job's Heston Asian/barrier path (QE-M steps, shadow GBM, multi-control regression,
    host closed forms brought back into the namespace) stays in the strict namespace."""
    from riskgrid.risk import exotics, heston

    hp = heston.HestonParams(v0=0.01, kappa=2.0, theta=0.04, sigma=0.9, rho=-0.6)
    spec = exotics.ExoticSpec(position_id="strict-he", is_call=True, strike=100.0, t=T,
                              model="heston", heston=hp, ref_vol=0.2, **kind)  # fmt: skip
    s = exotics.PricingSettings(seed=5, paths=2048)
    grid = exotics._grid(spec, s)
    z = rng.normals(5, 21, 2048, 2 * len(grid), antithetic=True)
    cols = {k: np.array(v) for k, v in COLS.items()}
    v0, th = np.full(3, 0.01), np.full(3, 0.04)
    ours = exotics.heston_kernel(spec, s, grid, z, cols["spot"], cols["r"], cols["q"], v0, th)
    strict = exotics.heston_kernel(
        spec, s, grid, xps.asarray(z), *(xps.asarray(cols[k]) for k in ("spot", "r", "q")),
        xps.asarray(v0), xps.asarray(th),
    )  # fmt: skip
    _assert_same(ours, strict)
