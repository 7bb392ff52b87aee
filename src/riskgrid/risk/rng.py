r"""Counter-based random streams: a position's paths do not depend on who computes them.

Every Monte Carlo position draws its normals from NumPy's Philox-4×64 bit generator, keyed by
``(job seed, position key)`` where the position key is a 64-bit BLAKE2b hash of the position
id. Paths come in fixed blocks of :data:`PATH_BLOCK` paths; block ``b`` starts the Philox
counter at ``b · 2^64`` (the counter's second word), so blocks never overlap and each block can
be generated on its own. The normals of a position are therefore a pure function of
``(seed, id, n_paths, n_dims)``: the same bits whatever task, block size, worker count, engine
or resumed checkpoint asks for them, and the same for the base valuation and every scenario
(common random numbers).

Antithetic pairs are formed by negating the first half of the draws (paths ``i`` and
``i + n/2``). Quasi-random Sobol points (``scipy.stats.qmc``) are scrambled with a generator
keyed the same way, one independent scramble per randomisation so that the standard error is
estimated from independent replicates.
"""

from __future__ import annotations

import hashlib

import numpy as np

from riskgrid.risk import _normal

#: Paths per counter block (a block's normals are generated in one call).
PATH_BLOCK = 4096
#: Limits on one position's simulation (the spec layer checks them; see docs/risk.md).
MAX_PATHS = 4_194_304
MAX_STEPS = 2_000


def position_key(position_id: str) -> int:
    """A stable 64-bit key of a position id (independent of the position's row)."""
    return int.from_bytes(hashlib.blake2b(position_id.encode(), digest_size=8).digest(), "little")


def _block(seed: int, key: int, block: int, out: np.ndarray) -> None:
    """Fill ``out`` (≤ PATH_BLOCK rows) with the first rows of block ``block``'s normals.

    A partial last block draws only the rows it needs: Philox fills C-order, so they are the
    first rows of the full block (the same numbers a full draw would start with).
    """
    bitgen = np.random.Philox(key=[seed & (2**64 - 1), key], counter=[0, block, 0, 0])
    np.random.Generator(bitgen).standard_normal(out=out)


def normals(seed: int, key: int, n_paths: int, n_dims: int, *, antithetic: bool) -> np.ndarray:
    """Standard normals, shape (n_paths, n_dims), a pure function of the arguments.

    With ``antithetic`` (``n_paths`` even) rows ``n/2 …`` are the negated rows ``0 … n/2``.
    """
    if n_paths < 1 or n_dims < 1:
        raise ValueError("need at least one path and one dimension")
    if antithetic and n_paths % 2:
        raise ValueError("antithetic sampling needs an even number of paths")
    m = n_paths // 2 if antithetic else n_paths
    # written in place, block by block (no concatenation copies): the draw is a fixed cost of
    # every MC price, comparable to the path arithmetic itself
    z = np.empty((n_paths, n_dims))
    for b, start in enumerate(range(0, m, PATH_BLOCK)):
        _block(seed, key, b, z[start : min(start + PATH_BLOCK, m)])
    if antithetic:
        np.negative(z[:m], out=z[m:])
    return z


def sobol_normals(seed: int, key: int, n_paths: int, n_dims: int, replicate: int) -> np.ndarray:
    """Scrambled Sobol points mapped to normals, (n_paths, n_dims); ``n_paths`` a power of 2.

    Replicate ``r`` uses a scramble seeded by ``(seed, key, 1, r)``: replicates are
    independent randomisations of the same low-discrepancy set.
    """
    from scipy.stats import qmc  # heavy import, only for QMC jobs

    if n_paths & (n_paths - 1):
        raise ValueError("Sobol sampling needs a power-of-two number of paths")
    seq = np.random.SeedSequence([seed, key, 1, replicate])  # scipy spawns from the sequence
    engine = qmc.Sobol(d=n_dims, scramble=True, rng=np.random.Generator(np.random.Philox(seq)))
    u = engine.random(n_paths)
    return _normal.ppf(np.clip(u, 1e-16, 1.0 - 1e-16))


def brownian_bridge(z: np.ndarray, times: np.ndarray) -> np.ndarray:
    r"""Brownian motion at ``times`` built by bisection from normals ``z`` (paths × steps).

    Column 0 of ``z`` sets :math:`W(t_n)`; later columns fill midpoints of the largest gaps,
    so the first (best-distributed) Sobol coordinates carry the most variance:
    :math:`W(t_m) = \frac{(t_r - t_m) W(t_l) + (t_m - t_l) W(t_r)}{t_r - t_l}
    + \sqrt{\frac{(t_m - t_l)(t_r - t_m)}{t_r - t_l}}\, Z`.
    """
    n = times.shape[0]
    w = np.zeros_like(z)
    done = np.zeros(n, dtype=bool)
    w[:, n - 1] = np.sqrt(times[n - 1]) * z[:, 0]
    done[n - 1] = True
    col = 1
    segments = [(-1, n - 1)]
    while segments:
        nxt = []
        for lo, hi in segments:
            if hi - lo < 2:
                continue
            mid = (lo + hi) // 2
            t_l = 0.0 if lo < 0 else times[lo]
            w_l = 0.0 if lo < 0 else w[:, lo]
            t_m, t_r = times[mid], times[hi]
            a = (t_r - t_m) / (t_r - t_l)
            b = (t_m - t_l) / (t_r - t_l)
            sd = np.sqrt((t_m - t_l) * (t_r - t_m) / (t_r - t_l))
            w[:, mid] = a * w_l + b * w[:, hi] + sd * z[:, col]
            done[mid] = True
            col += 1
            nxt += [(lo, mid), (mid, hi)]
        segments = nxt
    assert done.all() and col == n
    return w
