"""Exotic pricers against QuantLib's engines on randomised inputs (QuantLib is test-only).

Closed forms must agree to (near) machine precision; the PDE to 1e-4 relative with QuantLib's
FD engine (both on fine grids); Monte Carlo prices within 3 combined standard errors of
QuantLib's Monte Carlo engines (independent random numbers on both sides).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ql_exotics as qx

from riskgrid.risk import american, barrier, exotic_mc, heston, rng


def test_barrier_closed_form_matches_quantlib_analytic() -> None:
    g = np.random.default_rng(111)
    checked = 0
    for _ in range(60):
        kind = str(g.choice(list(qx.BARRIER_TYPES)))
        s = float(g.uniform(50, 150))
        h = s * float(g.uniform(0.7, 0.97) if kind.startswith("down") else g.uniform(1.03, 1.3))
        k = s * float(g.uniform(0.8, 1.2))
        call = bool(g.random() < 0.5)
        days = int(g.integers(30, 730))
        r, q, vol = float(g.uniform(0, 0.06)), float(g.uniform(0, 0.04)), float(g.uniform(0.1, 0.5))
        rebate = float(g.uniform(0, 5))
        ref, _ = qx.barrier(kind, h, rebate, call, k, days, s, r, q, vol)
        ours = float(
            barrier.price(
                call,
                kind.startswith("down"),
                kind.endswith("-in"),
                s,
                k,
                h,
                rebate,
                days / 365.0,
                r,
                q,
                vol,
            )
        )
        assert ours == pytest.approx(ref, rel=1e-9, abs=1e-9)
        checked += 1
    assert checked == 60


def test_discrete_barrier_mc_within_3se_of_quantlib_mc() -> None:
    g = np.random.default_rng(222)
    for i in range(4):
        kind = ("down-out", "up-out", "down-in", "up-in")[i % 4]
        s = 100.0
        h = 88.0 if kind.startswith("down") else 112.0
        k = float(g.uniform(90, 110))
        call = bool(i % 2 == 0)
        days, steps = 365, 26
        r, q, vol = (
            float(g.uniform(0, 0.05)),
            float(g.uniform(0, 0.03)),
            float(g.uniform(0.15, 0.35)),
        )
        ref, ref_se = qx.barrier(
            kind, h, 0.0, call, k, days, s, r, q, vol, mc_steps=steps, samples=8192
        )
        times = np.arange(1, steps + 1) / steps * (days / 365.0)
        z = rng.normals(5, rng.position_key(f"bar-{i}"), 8192, steps, antithetic=True)
        ours, se = exotic_mc.barrier_discrete(
            z,
            times=times,
            expiry=days / 365.0,
            is_call=call,
            is_down=kind.startswith("down"),
            is_in=kind.endswith("-in"),
            strike=k,
            barrier=h,
            rebate=0.0,
            spot=np.array([s]),
            r=np.array([r]),
            q=np.array([q]),
            vol=np.array([vol]),
            antithetic=True,
        )
        tol = 3.0 * math.hypot(float(se[0]), ref_se)
        assert abs(float(ours[0]) - ref) <= tol, (kind, ours, ref, tol)


def test_arithmetic_asian_mc_within_3se_of_quantlib_mc() -> None:
    g = np.random.default_rng(333)
    for i in range(5):
        s = float(g.uniform(80, 120))
        k = s * float(g.uniform(0.9, 1.1))
        call = bool(i % 2)
        n = int(g.integers(4, 24))
        days = int(g.integers(90, 720))
        fix_days = [round(days * (j + 1) / n) for j in range(n)]
        r, q, vol = float(g.uniform(0, 0.05)), float(g.uniform(0, 0.03)), float(g.uniform(0.1, 0.4))
        ref, ref_se = qx.asian_arithmetic(call, k, fix_days, days, s, r, q, vol, samples=8192)
        times = np.array(fix_days) / 365.0
        z = rng.normals(9, rng.position_key(f"asian-{i}"), 8192, n, antithetic=True)
        ours, se = exotic_mc.asian(
            z,
            times=times,
            expiry=days / 365.0,
            is_call=call,
            geometric=False,
            average_strike=False,
            strike=k,
            past_sum=0.0,
            past_log_sum=0.0,
            n_total=n,
            spot=np.array([s]),
            r=np.array([r]),
            q=np.array([q]),
            vol=np.array([vol]),
            antithetic=True,
            control_variate=True,
        )
        tol = 3.0 * math.hypot(float(se[0]), ref_se)
        assert abs(float(ours[0]) - ref) <= tol, (ours, ref, tol)


def test_american_pde_matches_quantlib_fd_1e4() -> None:
    g = np.random.default_rng(444)
    for i in range(6):
        s = float(g.uniform(60, 140))
        k = float(g.uniform(80, 120))
        call = i % 3 == 0  # calls need q > 0 to differ from Europeans
        days = int(g.integers(60, 730))
        r, q, vol = (
            float(g.uniform(0.01, 0.08)),
            float(g.uniform(0.01, 0.05)),
            float(g.uniform(0.15, 0.45)),
        )
        ref = qx.american_fd(call, k, days, s, r, q, vol, t_grid=1000, x_grid=1000)
        ours = float(
            american.pde(
                call,
                np.array([s]),
                k,
                days / 365.0,
                np.array([r]),
                np.array([q]),
                np.array([vol]),
                space_nodes=1201,
                time_steps=1000,
            )[0]
        )
        assert ours == pytest.approx(ref, rel=1e-4), (call, s, k, days, r, q, vol)


def test_heston_lewis_matches_quantlib_analytic() -> None:
    g = np.random.default_rng(555)
    for _ in range(20):
        v0, theta = float(g.uniform(0.01, 0.2)), float(g.uniform(0.01, 0.2))
        kappa, sigma, rho = (
            float(g.uniform(0.5, 5)),
            float(g.uniform(0.1, 1.0)),
            float(g.uniform(-0.9, 0.3)),
        )
        s, k = 100.0, float(g.uniform(70, 140))
        days = int(g.integers(30, 3 * 365))
        r, q = float(g.uniform(-0.01, 0.06)), float(g.uniform(0, 0.04))
        call = bool(g.random() < 0.5)
        ref = qx.heston_european(call, k, days, s, r, q, v0, kappa, theta, sigma, rho)
        p = heston.HestonParams(v0, kappa, theta, sigma, rho)
        ours = float(heston.european(call, s, k, days / 365.0, r, q, p))
        assert ours == pytest.approx(ref, rel=1e-7, abs=1e-8)


def test_lsm_within_3se_plus_bias_of_pde() -> None:
    """LSM (50 exercise dates, quadratic basis) vs the PDE reference: the documented net bias
    is below 0.5% of the price; the check allows 3 SE on top of it."""
    g = np.random.default_rng(666)
    for i in range(4):
        s, k = 100.0, float(g.uniform(90, 115))
        t = float(g.uniform(0.25, 1.5))
        r, q, vol = (
            float(g.uniform(0.02, 0.08)),
            float(g.uniform(0.0, 0.03)),
            float(g.uniform(0.2, 0.4)),
        )
        ref = float(
            american.pde(
                False,
                np.array([s]),
                k,
                t,
                np.array([r]),
                np.array([q]),
                np.array([vol]),
                space_nodes=801,
                time_steps=800,
            )[0]
        )
        times = np.linspace(0, t, 51)[1:]
        z = rng.normals(13, rng.position_key(f"lsm-{i}"), 16384, 50, antithetic=True)
        ours, se = exotic_mc.lsm(
            z,
            times=times,
            is_call=False,
            strike=k,
            spot=np.array([s]),
            r=np.array([r]),
            q=np.array([q]),
            vol=np.array([vol]),
            antithetic=True,
        )
        assert abs(float(ours[0]) - ref) <= 3 * float(se[0]) + 0.005 * ref, (ours, se, ref)
