"""Heston QE-M Monte Carlo: the martingale correction, the martingale control variate.

The control variate on the discounted spot is unbiased only if the *scheme* keeps the
discounted spot a martingale; these tests check that property, the European price against the
Lewis integral and QuantLib's QE-M engine, and that the job's Heston Asians and barriers get a
smaller standard error from the control without moving the price.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ql_exotics as qx

from riskgrid.risk import exotic_mc, exotics, heston, rng

# σ = 1 and κθ small against σ²/2: ψ > 1.5 often, so both QE branches are exercised
WILD = {"v0": 0.04, "kappa": 0.5, "theta": 0.04, "sigma": 1.0, "rho": -0.9}


def _paths(params: dict[str, float], n: int, times: np.ndarray, seed: int) -> np.ndarray:
    z = rng.normals(seed, rng.position_key("mart"), n, 2 * len(times), antithetic=False)
    logs, vs = exotic_mc.heston_paths(
        z,
        times=times,
        spot=np.array([100.0]),
        r=np.array([0.03]),
        q=np.array([0.01]),
        v0=np.array([params["v0"]]),
        kappa=params["kappa"],
        theta=np.array([params["theta"]]),
        sigma=params["sigma"],
        rho=params["rho"],
    )
    assert (vs == 0.0).any() and (vs > 0.0).any()  # both branches ran
    return np.asarray(logs[0])


@pytest.mark.parametrize("rho", [-0.9, 0.0, 0.6])
def test_qe_m_discounted_spot_is_a_martingale(rho: float) -> None:
    times = np.linspace(0.0, 2.0, 25)[1:]  # coarse steps make a plain-QE drift error visible
    logs = _paths({**WILD, "rho": rho}, 65536, times, seed=3)
    for j in (0, 11, 23):
        d = np.exp(-(0.03 - 0.01) * times[j] + logs[:, j])  # S_t e^{-(r-q)t}: mean S₀
        se = d.std(ddof=1) / math.sqrt(d.size)
        assert abs(d.mean() - 100.0) <= 3.0 * se, (j, d.mean(), se)


def test_qe_m_one_step_forward_is_exact() -> None:
    """From one state, E[S_Δ] = S₀e^{(r−q)Δ} holds per step (the correction is conditional):
    a single 1-year step from a small variance — the drift a plain QE would get wrong by ~1%."""
    z = rng.normals(9, 77, 262144, 2, antithetic=True)
    logs, _ = exotic_mc.heston_paths(
        z, times=np.array([1.0]), spot=np.array([100.0]), r=np.array([0.03]),
        q=np.array([0.01]), v0=np.array([0.01]), kappa=WILD["kappa"],
        theta=np.array([WILD["theta"]]), sigma=WILD["sigma"], rho=WILD["rho"],
    )  # fmt: skip
    s = np.exp(logs[0, :, 0])
    y = 0.5 * (s[:131072] + s[131072:])
    se = y.std(ddof=1) / math.sqrt(y.size)
    assert abs(y.mean() - 100.0 * math.exp(0.02)) <= 3.0 * se


CASES = np.random.default_rng(2026)


@pytest.mark.parametrize("case", range(4))
def test_heston_european_cv_matches_lewis_and_quantlib(case: int) -> None:
    g = np.random.default_rng(1000 + case)
    s, r, q = 100.0, float(g.uniform(0.0, 0.05)), float(g.uniform(0.0, 0.03))
    k = float(g.uniform(80, 120))
    call = bool(g.random() < 0.5)
    days = int(g.integers(90, 730))
    hp = heston.HestonParams(
        v0=float(g.uniform(0.01, 0.09)),
        kappa=float(g.uniform(0.5, 4.0)),
        theta=float(g.uniform(0.02, 0.09)),
        sigma=float(g.uniform(0.2, 0.9)),
        rho=float(g.uniform(-0.9, 0.3)),
    )
    t = days / 365.0
    steps = max(1, math.ceil(52 * t))
    times = np.linspace(0.0, t, steps + 1)[1:]
    z = rng.normals(5, rng.position_key(f"he-{case}"), 32768, 2 * steps, antithetic=True)
    one = np.array
    p, se = exotic_mc.heston_european(
        z, times=times, is_call=call, strike=k, spot=one([s]), r=one([r]), q=one([q]),
        v0=one([hp.v0]), kappa=hp.kappa, theta=one([hp.theta]), sigma=hp.sigma, rho=hp.rho,
        antithetic=True, control_variate=True,
    )  # fmt: skip
    price, err = float(p[0]), float(se[0])
    lewis = float(heston.european(call, s, k, t, r, q, hp))
    assert abs(price - lewis) <= 3.0 * err + 0.02, (price, err, lewis)  # + the QE-M bias bound
    params = (hp.v0, hp.kappa, hp.theta, hp.sigma, hp.rho)
    ql_p, ql_se = qx.heston_european_mc(call, k, days, s, r, q, params, steps, 8192)
    assert abs(price - ql_p) <= 3.0 * math.hypot(err, ql_se), (price, err, ql_p, ql_se)


def _spec(kind: str, **kw: object) -> exotics.ExoticSpec:
    hp = heston.HestonParams(v0=0.04, kappa=1.5, theta=0.05, sigma=0.5, rho=-0.7)
    base: dict[str, object] = {"is_call": True, "strike": 100.0, "t": 1.0, "model": "heston",
                               "heston": hp, "ref_vol": 0.2}  # fmt: skip
    return exotics.ExoticSpec(kind=kind, position_id=f"cv-{kind}", **{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec",
    [
        _spec("asian_option", fix_times=tuple(np.arange(1, 13) / 12), n_total=12),
        _spec("barrier_option", barrier=80.0, is_down=True, is_in=False, monitor_times=None),
        _spec(
            "barrier_option",
            barrier=130.0,
            is_down=False,
            is_in=True,
            rebate=2.0,
            monitor_times=tuple(np.arange(1, 13) / 12),
        ),
    ],
    ids=["asian", "down-out-continuous", "up-in-monthly-rebate"],
)
def test_job_heston_products_gain_from_the_controls(spec: exotics.ExoticSpec) -> None:
    states = [np.array([100.0, 95.0]), np.full(2, 0.03), np.full(2, 0.01), np.full(2, 0.2)]
    on = exotics.PricingSettings(seed=4, paths=16384, control_variate=True)
    off = exotics.PricingSettings(seed=4, paths=16384, control_variate=False)
    p1, se1 = exotics.price(spec, on, *states)
    p0, se0 = exotics.price(spec, off, *states)
    assert (se1 < se0).all(), (se1, se0)
    # same paths: the two estimates differ by β̂(Ḡ − E[G]), within a few SE of the plain one
    assert (np.abs(p1 - p0) <= 3.0 * se0).all(), (p1, p0, se0)


def test_shadow_gbm_payoffs_have_their_closed_form_means() -> None:
    """The shadow GBM is an exact GBM: on it a European call, a geometric Asian and a
    continuously monitored (bridge-corrected) down-and-out call average to the Black–Scholes,
    geometric-Asian and Reiner–Rubinstein prices — so the shadow control adds no bias."""
    from riskgrid.risk import asian, barrier, black_scholes

    times = np.linspace(0.0, 1.5, 79)[1:]
    n, rho, vol = 131072, -0.7, np.array([0.22])
    z = rng.normals(17, rng.position_key("shadow"), n, 2 * len(times), antithetic=False)
    s0, r, q = np.array([100.0]), np.array([0.03]), np.array([0.01])
    logs = list(exotic_mc.shadow_gbm_steps(z, times=times, spot=s0, r=r, q=q, vol=vol, rho=rho))
    g = np.stack([lg[0] for lg in logs], axis=-1)  # (paths, steps)
    df = math.exp(-0.03 * 1.5)

    def check(pay: np.ndarray, exact: float) -> None:
        se = pay.std(ddof=1) / math.sqrt(pay.size)
        assert abs(pay.mean() - exact) <= 3.0 * se, (pay.mean(), exact, se)

    check(df * np.maximum(np.exp(g[:, -1]) - 105.0, 0.0),
          float(black_scholes.price(True, 100.0, 105.0, 1.5, 0.03, 0.01, 0.22)))  # fmt: skip
    fix = np.arange(5, 78, 6)
    geo = np.exp(g[:, fix].mean(axis=1))
    check(df * np.maximum(geo - 100.0, 0.0),
          float(asian.geometric_price(True, s0, 100.0, times[fix], 1.5, r, q, vol)[0]))  # fmt: skip
    prev = np.concatenate([np.full((n, 1), math.log(100.0)), g[:, :-1]], axis=1)
    var = vol[0] ** 2 * np.diff(times, prepend=0.0)[None, :]
    surv = exotic_mc.bridge_survival(prev, g, var, math.log(85.0), True).prod(axis=1)
    rr = barrier.price(True, True, False, 100.0, 100.0, 85.0, 0.0, 1.5, 0.03, 0.01, 0.22)
    check(df * surv * np.maximum(np.exp(g[:, -1]) - 100.0, 0.0), float(rr))
