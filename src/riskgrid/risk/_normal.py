r"""Standard normal distribution, vectorised, to machine precision.

Thin wrappers over SciPy's Cephes-based ufuncs: ``ndtr`` is accurate in *relative* terms over the
whole real line, including the far left tail where :math:`1 - \operatorname{erf}` would cancel,
and ``ndtri`` is its inverse. Both are elementwise ufuncs: the value for one element depends on
that element alone, whatever the shape of the array around it — the property the grid's
bit-identical blocking relies on.

The two ufuncs are taken from ``scipy.special._ufuncs`` without running ``scipy.special``'s
package ``__init__`` (see :func:`_load_ufuncs`): that ``__init__`` sets up SciPy's array-API
layer, which walks every attribute of NumPy and so imports ``numpy.f2py``, ``numpy.testing`` and
more — 0.2–0.3 s of a short CLI run, for two functions. They are the very objects
``scipy.special.ndtr``/``ndtri`` are (a test checks the identity), so every value is bit-identical.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any, cast

import numpy as np

_INV_SQRT_2PI = 0.39894228040143267794


def _load_ufuncs() -> tuple[Any, Any]:
    """``(ndtr, ndtri)`` from SciPy's compiled ``_ufuncs`` module, cheaply when possible.

    If ``scipy.special`` is not imported yet, a bare stand-in for the package (its path, no
    ``__init__``) sits in ``sys.modules`` while the extension module loads, under the global
    import lock so that no other thread can see the stand-in; then it is removed, so a later
    ``import scipy.special`` runs the real ``__init__`` and finds the same ``_ufuncs`` module.
    Any surprise (a SciPy that lays its modules out differently) falls back to the plain import.
    """
    name = "scipy.special"
    if name not in sys.modules:
        import _imp

        _imp.acquire_lock()
        try:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations is not None:
                stand_in = types.ModuleType(name)
                stand_in.__path__ = list(spec.submodule_search_locations)
                stand_in.__spec__ = spec
                sys.modules[name] = stand_in
                try:
                    ufuncs = importlib.import_module(f"{name}._ufuncs")
                    return ufuncs.ndtr, ufuncs.ndtri
                except (ImportError, AttributeError):
                    sys.modules.pop(f"{name}._ufuncs", None)
                finally:
                    if sys.modules.get(name) is stand_in:
                        del sys.modules[name]
        finally:
            _imp.release_lock()
    from scipy import special  # untyped: its ufuncs return Any to mypy

    return special.ndtr, special.ndtri


_ndtr, _ndtri = _load_ufuncs()


def cdf(x: np.ndarray | float) -> np.ndarray:
    r""":math:`N(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2)`."""
    return cast(np.ndarray, _ndtr(np.asarray(x, dtype=np.float64)))


def pdf(x: np.ndarray | float) -> np.ndarray:
    r""":math:`\varphi(x) = e^{-x^2/2} / \sqrt{2\pi}`."""
    x = np.asarray(x, dtype=np.float64)
    return cast(np.ndarray, _INV_SQRT_2PI * np.exp(-0.5 * x * x))


def ppf(p: np.ndarray | float) -> np.ndarray:
    r"""Inverse of :func:`cdf` for :math:`0 < p < 1`."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p <= 0.0) | (p >= 1.0)):
        raise ValueError("ppf: probabilities must lie strictly between 0 and 1")
    return cast(np.ndarray, _ndtri(p))
