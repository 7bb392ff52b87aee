"""Keyed random streams: the same key gives the same numbers on any engine, worker or retry.

A stream is a :class:`numpy.random.Generator` (PCG64) seeded by
``SeedSequence(entropy=job_seed, spawn_key=digest(key parts))``. Key a stream by the unit
the random numbers belong to — a scenario index, a position id, a path block of fixed
canonical size — not by the task that happens to compute it, so that results are also
independent of block sizes (see :func:`riskgrid.grid.synthetic.keyed_block`).
"""

from __future__ import annotations

import hashlib

import numpy as np


def spawn_key(*parts: object) -> tuple[int, ...]:
    """A stable tuple of 32-bit words from the key parts (their ``repr``, SHA-256)."""
    text = "\x1f".join(f"{type(p).__name__}:{p!r}" for p in parts)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stream(seed: int, *parts: object) -> np.random.Generator:
    """The random stream of ``(seed, *parts)``."""
    if seed < 0:
        raise ValueError("seed must be ≥ 0")
    seq = np.random.SeedSequence(entropy=seed, spawn_key=spawn_key(*parts))
    return np.random.Generator(np.random.PCG64(seq))
