"""The normal CDF/inverse are SciPy's own ufuncs, loaded without ``scipy.special``'s ``__init__``.

Bit-identity with ``scipy.special.ndtr``/``ndtri`` follows from object identity, which these
tests check; the cheap load is checked in a fresh interpreter (what it saves is measured in
``benchmarks/bench_startup.py``, not here).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import scipy.special

from riskgrid.risk import _normal


def test_the_ufuncs_are_scipys_own_objects() -> None:
    assert _normal._ndtr is scipy.special.ndtr
    assert _normal._ndtri is scipy.special.ndtri
    x = np.linspace(-38.0, 9.0, 4_001)
    assert np.array_equal(_normal.cdf(x), scipy.special.ndtr(x))
    p = np.linspace(1e-12, 1.0 - 1e-12, 4_001)
    assert np.array_equal(_normal.ppf(p), scipy.special.ndtri(p))


def test_loading_leaves_scipy_special_importable_and_whole() -> None:
    probe = (
        "import sys, json\n"
        "from riskgrid.risk import _normal\n"
        "before = 'scipy.special' in sys.modules\n"
        "import scipy.special, scipy.special._ufuncs as u\n"
        "print(json.dumps([before, _normal._ndtr is scipy.special.ndtr,\n"
        "    _normal._ndtri is scipy.special.ndtri, u is sys.modules['scipy.special._ufuncs'],\n"
        "    callable(scipy.special.logsumexp), scipy.special.ndtr(0.0)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    before, same_ndtr, same_ndtri, same_module, whole, half = json.loads(
        out.stdout.strip().splitlines()[-1]
    )
    assert before is False  # the package __init__ did not run for the two ufuncs
    assert (same_ndtr, same_ndtri, same_module, whole) == (True, True, True, True)
    assert half == 0.5
