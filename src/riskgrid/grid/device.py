"""``--device``: where the Monte Carlo kernels run (NumPy on the CPU, or CuPy on a GPU).

The kernels are written once against the array API (:mod:`riskgrid.risk.exotic_mc`); this
module only checks that a GPU run is possible and records the choice in the job's pricing
settings, which travel to every worker with the portfolio. GPU results are equal to the CPU's
within floating-point rounding, not bit for bit (different math libraries), so the choice is
part of how a run was made, not of its inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from riskgrid.spec.errors import RiskgridError

DEVICES = ("cpu", "gpu")


def gpu_problem() -> str | None:
    """Why a GPU run is impossible here (``None`` when CuPy sees a CUDA device)."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (install the optional extra: riskgrid[gpu])"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy found no CUDA device"
    except Exception as exc:  # CUDA driver errors come in many types
        return f"CuPy cannot reach a CUDA device: {exc}"
    return None


def use_device(inputs: Any, device: str) -> Any:
    """``inputs`` with Monte Carlo kernels placed on ``device``; refuses an unusable GPU."""
    if device not in DEVICES:
        raise RiskgridError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return inputs
    why = gpu_problem()
    if why is not None:
        raise RiskgridError(f"--device gpu: {why}")
    p = inputs.portfolio
    gpu = dataclasses.replace(p, settings=dataclasses.replace(p.settings, device="gpu"))
    return dataclasses.replace(inputs, portfolio=gpu)
