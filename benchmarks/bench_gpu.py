#!/usr/bin/env python3
"""GPU vs one CPU core: 1M-path arithmetic Asian and Heston (QE) pricing, same kernels.

    .venv/bin/python benchmarks/bench_gpu.py [--paths 1048576] [--repeat 3]

The kernels of :mod:`riskgrid.risk.exotic_mc` are written against the array API, so the same
code runs on NumPy (one core: BLAS/OpenMP threads pinned to 1) and on CuPy. Normals are drawn
on each device beforehand (NumPy's default generator on the CPU, CuPy's on the GPU: the prices
agree within their standard errors, not bit for bit) and the timed part is the path
construction and payoff reduction; GPU times include a device synchronisation. Prints min and
median wall seconds of ``--repeat`` runs and the speed-up.

Exits 0 with a message when CuPy or a CUDA device is missing (this repository's CI has none).
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from riskgrid.grid.device import gpu_problem  # noqa: E402
from riskgrid.risk import exotic_mc  # noqa: E402

T, S, K, R, Q, VOL = 1.0, 100.0, 100.0, 0.03, 0.01, 0.25
HESTON = {"v0": 0.04, "kappa": 1.5, "theta": 0.05, "sigma": 0.5, "rho": -0.7}


def asian(xp: Any, z: Any) -> float:
    times = np.arange(1, 13) / 12 * T
    one = lambda x: xp.asarray([x], dtype=xp.float64)  # noqa: E731
    p, _ = exotic_mc.asian(
        z,
        times=times,
        expiry=T,
        is_call=True,
        geometric=False,
        average_strike=False,
        strike=K,
        past_sum=0.0,
        past_log_sum=0.0,
        n_total=12,
        spot=one(S),
        r=one(R),
        q=one(Q),
        vol=one(VOL),
        antithetic=False,
        control_variate=True,
    )
    return float(p[0])


def heston(xp: Any, z: Any) -> float:
    times = np.arange(1, 53) / 52 * T
    one = lambda x: xp.asarray([x], dtype=xp.float64)  # noqa: E731
    logs, _ = exotic_mc.heston_paths(
        z,
        times=times,
        spot=one(S),
        r=one(R),
        q=one(Q),
        v0=one(HESTON["v0"]),
        kappa=HESTON["kappa"],
        theta=one(HESTON["theta"]),
        sigma=HESTON["sigma"],
        rho=HESTON["rho"],
    )
    return float(xp.mean(np.exp(-R * T) * xp.maximum(xp.exp(logs[0, :, -1]) - K, 0.0)))


def timed(
    repeat: int, fn: Callable[[], float], sync: Callable[[], None]
) -> tuple[float, float, float]:
    times, out = [], 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=1 << 20)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    why = gpu_problem()
    if why is not None:
        print(f"bench_gpu: no GPU run possible here: {why}. Nothing measured.")
        return 0
    import cupy as cp
    from array_api_compat import cupy as xcp
    from array_api_compat import numpy as xnp

    print(f"GPU: {cp.cuda.runtime.getDeviceProperties(0)['name'].decode()}, paths {a.paths}")
    g_np = np.random.default_rng(1)
    for name, fn, dims in (
        ("Asian arithmetic, 12 fixings, CV", asian, 12),
        ("Heston QE, 52 steps", heston, 104),
    ):
        z_cpu = xnp.asarray(g_np.standard_normal((a.paths, dims)))
        z_gpu = cp.random.default_rng(1).standard_normal((a.paths, dims))
        fn(xcp, z_gpu[:1024])  # warm: kernel compilation
        c_min, c_med, c_p = timed(a.repeat, lambda f=fn, z=z_cpu: f(xnp, z), lambda: None)
        sync = cp.cuda.Stream.null.synchronize
        g_min, g_med, g_p = timed(a.repeat, lambda f=fn, z=z_gpu: f(xcp, z), sync)
        print(
            f"{name:34} CPU 1 core {c_min:7.3f}/{c_med:7.3f} s  GPU {g_min:7.4f}/{g_med:7.4f} s"
            f"  speed-up {c_min / g_min:6.1f}×  prices {c_p:.4f} / {g_p:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
