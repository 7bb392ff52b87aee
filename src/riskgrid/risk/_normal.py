r"""Standard normal distribution, vectorised, to machine precision.

Thin wrappers over SciPy's Cephes-based ufuncs: ``ndtr`` is accurate in *relative* terms over the
whole real line, including the far left tail where :math:`1 - \operatorname{erf}` would cancel,
and ``ndtri`` is its inverse. Both are elementwise ufuncs: the value for one element depends on
that element alone, whatever the shape of the array around it — the property the grid's
bit-identical blocking relies on.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy import special  # untyped: its ufuncs return Any to mypy

_INV_SQRT_2PI = 0.39894228040143267794


def cdf(x: np.ndarray | float) -> np.ndarray:
    r""":math:`N(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2)`."""
    return cast(np.ndarray, special.ndtr(np.asarray(x, dtype=np.float64)))


def pdf(x: np.ndarray | float) -> np.ndarray:
    r""":math:`\varphi(x) = e^{-x^2/2} / \sqrt{2\pi}`."""
    x = np.asarray(x, dtype=np.float64)
    return cast(np.ndarray, _INV_SQRT_2PI * np.exp(-0.5 * x * x))


def ppf(p: np.ndarray | float) -> np.ndarray:
    r"""Inverse of :func:`cdf` for :math:`0 < p < 1`."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p <= 0.0) | (p >= 1.0)):
        raise ValueError("ppf: probabilities must lie strictly between 0 and 1")
    return cast(np.ndarray, special.ndtri(p))
