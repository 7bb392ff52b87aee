r"""Keyed random streams: a position's paths do not depend on who computes them.

Every Monte Carlo position draws its normals in fixed blocks of :data:`PATH_BLOCK` paths
(all of a path's dimensions). Block ``b`` of a position has its own stream: NumPy's SFC64
generator whose 256-bit state is hashed by :class:`numpy.random.SeedSequence` from the key
``(job seed, position key, 0, b)``, where the position key is a 64-bit BLAKE2b hash of the
position id (the 0 tags pseudo-random blocks; Sobol scrambles use 1). Each block is therefore
generated on its own, from its key alone — the property a counter-based generator gives — and
path ``i``'s normals are a pure function of ``(seed, id, i, n_dims)``: the same bits whatever
task, block size, worker count, engine or resumed checkpoint asks for them, and the same for
the base valuation and every scenario (common random numbers).

Why SFC64 and not Philox (the first version; D-#11.24): NumPy's ziggurat normals cost ≈ 10 ns
each from SFC64 and ≈ 27 ns from Philox-4×64 on the reference machine, and drawing normals was
40% of a Heston QE price. SeedSequence is NumPy's recommended way to key independent parallel
streams; two blocks' SFC64 sequences (≥ 2^64 long each, random starting points in a 2^256
space) overlap with negligible probability over the ≤ 2^23 numbers a block uses.

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


def _block(seed: int, key: int, block: int, n_dims: int) -> np.ndarray:
    """Block ``block``'s normals, (n_dims, PATH_BLOCK) in C order: column ``j`` is the ``j``-th
    path of the block. The whole block is always drawn (a partial last block uses its first
    columns), so a path's normals never depend on how many paths the position has."""
    seq = np.random.SeedSequence([seed & (2**64 - 1), key, 0, block])
    return np.random.Generator(np.random.SFC64(seq)).standard_normal((n_dims, PATH_BLOCK))


def normals(seed: int, key: int, n_paths: int, n_dims: int, *, antithetic: bool) -> np.ndarray:
    """Standard normals, shape (n_paths, n_dims), a pure function of the arguments.

    Read-only: callers share one draw across a position's column chunks.

    With ``antithetic`` (``n_paths`` even) rows ``n/2 …`` are the negated rows ``0 … n/2``.
    The result is the transpose of a C-contiguous (n_dims, n_paths) buffer (Fortran order):
    every kernel walks it date by date, so ``z.T`` is their contiguous (dates, paths) layout
    with no transposing copy — the copy cost as much as a fifth of a Heston QE price. Callers
    must not write into ``z.T`` in place (it is the caller's ``z``).
    """
    if n_paths < 1 or n_dims < 1:
        raise ValueError("need at least one path and one dimension")
    if antithetic and n_paths % 2:
        raise ValueError("antithetic sampling needs an even number of paths")
    m = n_paths // 2 if antithetic else n_paths
    zt = np.empty((n_dims, n_paths))
    for b, start in enumerate(range(0, m, PATH_BLOCK)):
        stop = min(start + PATH_BLOCK, m)
        block = _block(seed, key, b, n_dims)[:, : stop - start]
        zt[:, start:stop] = block  # row-wise contiguous copies
        if antithetic:
            np.negative(block, out=zt[:, m + start : m + stop])
    zt.flags.writeable = False  # shared across chunks: a kernel writing into it would raise
    return zt.T


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
