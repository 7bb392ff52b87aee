"""Job size from the grid planner's cost model: core-seconds and tasks.

The burst planner and the simulation never estimate work themselves: core-seconds come from
:func:`riskgrid.grid.planner.estimate_seconds` (the function the grid planner sizes its tasks
with), on a cost model either measured on the job itself (:func:`calibrate_job`, the runner's
own calibration: best of two timed runs over three row samples) or given in the day file.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskgrid.grid.planner import CostModel, estimate_seconds


@dataclass(frozen=True)
class JobSize:
    positions: int
    scenarios: int
    greeks: bool
    core_seconds: float
    tasks: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "positions": self.positions,
            "scenarios": self.scenarios,
            "greeks": self.greeks,
            "coreSeconds": self.core_seconds,
            "tasks": self.tasks,
        }


def job_size(
    positions: int, scenarios: int, cost: CostModel, *, greeks: bool, task_seconds: float
) -> JobSize:
    """Core-seconds of one job and the number of ~``task_seconds`` tasks it is cut into."""
    pnl, pos = estimate_seconds(positions, scenarios, cost, greeks=greeks)
    total = pnl + pos
    return JobSize(positions, scenarios, greeks, total, max(1, math.ceil(total / task_seconds)))


@dataclass(frozen=True)
class Calibration:
    """A cost model measured on a job's own portfolio and scenarios."""

    cost: CostModel
    sample_positions: int
    sample_scenarios: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "perElementSeconds": self.cost.per_element,
            "perPositionSeconds": self.cost.per_position,
            "measured": self.cost.measured,
            "samplePositions": self.sample_positions,
            "sampleScenarios": self.sample_scenarios,
            "calibrationSeconds": round(self.seconds, 3),
        }


def calibrate_job(path: str | Path) -> tuple[Any, Calibration]:
    """Load a RiskJob and measure its cost model (the grid runner's calibration)."""
    from riskgrid.grid.jobtask import RiskContext, calibrate
    from riskgrid.spec.job import load_job

    inputs = load_job(path)
    ctx = RiskContext(
        inputs.portfolio, inputs.market, inputs.scenarios, bool(inputs.measures.greeks)
    )
    t0 = time.perf_counter()
    cost = calibrate(ctx)
    elapsed = time.perf_counter() - t0
    rows = min(16, inputs.portfolio.n) * 3
    cols = min(inputs.scenarios.n, 256)
    return inputs, Calibration(cost, min(rows, inputs.portfolio.n), cols, elapsed)
