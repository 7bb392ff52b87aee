"""Property tests of the exotic pricers: parity, in + out = vanilla, American ≥ European,
geometric ≤ arithmetic Asian, QMC and pseudo-random agreement, determinism of streams."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from riskgrid.risk import american, asian, barrier, black_scholes, exotic_mc, exotics, heston, rng

spot = st.floats(50.0, 150.0)
rate = st.floats(0.0, 0.08)
carry = st.floats(0.0, 0.05)
vol = st.floats(0.1, 0.5)
expiry = st.floats(0.1, 2.0)


@settings(max_examples=60, deadline=None)
@given(
    s=spot,
    k=st.floats(60.0, 140.0),
    h_rel=st.floats(0.05, 0.4),
    t=expiry,
    r=rate,
    q=carry,
    v=vol,
    call=st.booleans(),
    down=st.booleans(),
)
def test_barrier_in_plus_out_is_vanilla(s, k, h_rel, t, r, q, v, call, down) -> None:
    h = s * (1 - h_rel) if down else s * (1 + h_rel)
    knock_in = barrier.price(call, down, True, s, k, h, 0.0, t, r, q, v)
    knock_out = barrier.price(call, down, False, s, k, h, 0.0, t, r, q, v)
    vanilla = black_scholes.price(call, s, k, t, r, q, v)
    assert np.isclose(knock_in + knock_out, vanilla, rtol=1e-9, atol=1e-9)
    assert knock_in >= -1e-12 and knock_out >= -1e-12


@settings(max_examples=25, deadline=None)
@given(s=spot, k=st.floats(60.0, 140.0), t=expiry, r=rate, q=carry, v=vol, call=st.booleans())
def test_american_at_least_european_and_intrinsic(s, k, t, r, q, v, call) -> None:
    euro = float(black_scholes.price(call, s, k, t, r, q, v))
    intrinsic = max((s - k) if call else (k - s), 0.0)
    amer_pde = float(
        american.pde(
            call,
            np.array([s]),
            k,
            t,
            np.array([r]),
            np.array([q]),
            np.array([v]),
            space_nodes=201,
            time_steps=100,
        )[0]
    )
    amer_baw = float(american.baw(call, s, k, t, r, q, v))
    for amer in (amer_pde, amer_baw):
        info = (s, k, t, r, q, v, call, amer_pde, amer_baw)
        assert amer >= euro - 2e-3 * max(euro, 1.0), info  # PDE grid error allowance
        assert amer >= intrinsic - 1e-12, info


@settings(max_examples=40, deadline=None)
@given(
    s=spot,
    k=st.floats(70.0, 130.0),
    t=expiry,
    r=rate,
    q=carry,
    v=vol,
    n=st.integers(2, 24),
    call=st.booleans(),
)
def test_geometric_below_arithmetic_on_the_same_paths(s, k, t, r, q, v, n, call) -> None:
    times = np.arange(1, n + 1) / n * t
    z = rng.normals(1, 2, 2048, n, antithetic=True)
    args = {
        "times": times,
        "expiry": t,
        "is_call": call,
        "average_strike": False,
        "strike": k,
        "past_sum": 0.0,
        "past_log_sum": 0.0,
        "n_total": n,
        "spot": np.array([s]),
        "r": np.array([r]),
        "q": np.array([q]),
        "vol": np.array([v]),
        "antithetic": True,
        "control_variate": False,
    }
    geo, _ = exotic_mc.asian(z, geometric=True, **args)
    ari, _ = exotic_mc.asian(z, geometric=False, **args)
    if call:  # AM–GM path by path: the arithmetic call dominates
        assert geo[0] <= ari[0] + 1e-12
    else:  # and the geometric put dominates
        assert geo[0] >= ari[0] - 1e-12


@settings(max_examples=30, deadline=None)
@given(s=spot, k=st.floats(70.0, 130.0), t=expiry, r=rate, q=carry, v=vol, n=st.integers(1, 12))
def test_geometric_asian_put_call_parity(s, k, t, r, q, v, n) -> None:
    times = np.arange(1, n + 1) / n * t
    c = asian.geometric_price(True, s, k, times, t, r, q, v)
    p = asian.geometric_price(False, s, k, times, t, r, q, v)
    mean, var = asian.geometric_moments(np.array(s), times, n, 0.0, np.array(r - q), np.array(v))
    forward = np.exp(mean + 0.5 * var)
    assert np.isclose(c - p, np.exp(-r * t) * (forward - k), rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    k=st.floats(60.0, 160.0),
    t=expiry,
    r=rate,
    q=carry,
    v0=st.floats(0.01, 0.2),
    kappa=st.floats(0.5, 5.0),
    theta=st.floats(0.01, 0.2),
    sigma=st.floats(0.1, 1.0),
    rho=st.floats(-0.9, 0.5),
)
def test_heston_put_call_parity(k, t, r, q, v0, kappa, theta, sigma, rho) -> None:
    p = heston.HestonParams(v0, kappa, theta, sigma, rho)
    c = float(heston.european(True, 100.0, k, t, r, q, p))
    pu = float(heston.european(False, 100.0, k, t, r, q, p))
    assert np.isclose(c - pu, 100.0 * np.exp(-q * t) - k * np.exp(-r * t), atol=1e-9)
    assert c >= max(100.0 * np.exp(-q * t) - k * np.exp(-r * t), 0.0) - 1e-7


def test_streams_do_not_depend_on_how_many_paths_are_asked_for() -> None:
    key = rng.position_key("pos-1")
    full = rng.normals(5, key, 3 * rng.PATH_BLOCK, 7, antithetic=False)
    part = rng.normals(5, key, rng.PATH_BLOCK + 10, 7, antithetic=False)
    assert np.array_equal(full[: rng.PATH_BLOCK + 10], part)
    other = rng.normals(5, rng.position_key("pos-2"), rng.PATH_BLOCK, 7, antithetic=False)
    assert not np.array_equal(full[: rng.PATH_BLOCK], other)
    reseeded = rng.normals(6, key, rng.PATH_BLOCK, 7, antithetic=False)
    assert not np.array_equal(full[: rng.PATH_BLOCK], reseeded)


def test_sobol_qmc_agrees_with_pseudo_random_and_has_smaller_error() -> None:
    spec = exotics.ExoticSpec(
        kind="asian_option",
        position_id="qmc",
        is_call=True,
        strike=100.0,
        t=1.0,
        fix_times=tuple(np.arange(1, 13) / 12),
        n_total=12,
    )
    args = (np.array([100.0]), np.array([0.03]), np.array([0.01]), np.array([0.25]))
    pseudo = exotics.PricingSettings(paths=8192, control_variate=False)
    sobol = dataclasses.replace(pseudo, sampling="sobol", sobol_replicates=8, paths=1024)
    p_price, p_se = exotics.price(spec, pseudo, *args)
    q_price, q_se = exotics.price(spec, sobol, *args)
    assert abs(p_price[0] - q_price[0]) <= 3 * np.hypot(p_se[0], q_se[0])
    assert q_se[0] < p_se[0]  # 8 × 1024 Sobol points beat 8192 antithetic pseudo-random ones
    again, _ = exotics.price(spec, sobol, *args)
    assert np.array_equal(again, q_price)
