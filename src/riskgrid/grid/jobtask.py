"""The risk task function and its shared context: what workers run for a RiskJob.

``pnl`` tasks return ``{"pnl": (rows, cols) array}``; ``pos`` tasks return ``{"pv": …}`` plus
one array per Greek when Greeks are asked for, and ``"theta"`` when a theta horizon is set.
Each element depends only on its own position and scenario, so a block equals the same slice of
the full matrix, bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from riskgrid.grid.planner import CostModel
from riskgrid.grid.tasks import Task
from riskgrid.risk import greeks, revaluation, theta
from riskgrid.risk.market import MarketData
from riskgrid.risk.portfolio import Portfolio
from riskgrid.risk.scenarios import ScenarioSet


@dataclass(frozen=True, eq=False)
class RiskContext:
    """The read-only inputs every task reads; shipped once to each worker."""

    portfolio: Portfolio
    market: MarketData
    scenarios: ScenarioSet
    greeks: bool
    #: theta horizon in calendar days; 0 = no theta
    theta_days: int = 0


def run_risk_task(ctx: RiskContext, task: Task) -> dict[str, np.ndarray]:
    if task.kind == "pnl":
        block = revaluation.pnl_block(
            ctx.portfolio, ctx.market, ctx.scenarios, task.rows, task.cols
        )
        return {"pnl": block}
    out = {"pv": revaluation.base_pv(ctx.portfolio, ctx.market, task.rows)}
    if ctx.greeks:
        out.update(greeks.greeks_block(ctx.portfolio, ctx.market, task.rows))
    if ctx.theta_days > 0:
        out["theta"] = theta.theta_block(ctx.portfolio, ctx.market, ctx.theta_days, task.rows)
    return out


def calibrate(ctx: RiskContext, *, sample_rows: int = 16, max_cols: int = 256) -> CostModel:
    """Measure seconds per P&L element and per position on three spread-out row samples.

    Each sample runs twice and the faster run counts (the first pays for warm-up), so the
    estimate errs towards cheap tasks, which the planner's 50 ms floor bounds.
    """
    n, s = ctx.portfolio.n, ctx.scenarios.n
    k = min(sample_rows, n)
    cols = slice(0, min(s, max_cols))
    starts = sorted({0, max(0, n // 2 - k // 2), max(0, n - k)})
    elem_t, pos_t, elems, rows = 0.0, 0.0, 0, 0
    for r0 in starts:
        rs = slice(r0, r0 + k)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            revaluation.pnl_block(ctx.portfolio, ctx.market, ctx.scenarios, rs, cols)
            best = min(best, time.perf_counter() - t0)
        elem_t += best
        elems += k * (cols.stop - cols.start)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            run_risk_task(ctx, Task("pos", r0, r0 + k))
            best = min(best, time.perf_counter() - t0)
        pos_t += best
        rows += k
    return CostModel(per_element=elem_t / elems, per_position=pos_t / rows, measured=True)
