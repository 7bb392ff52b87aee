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
    pv, se = revaluation.base_pv_se(ctx.portfolio, ctx.market, task.rows)
    out = {"pv": pv}
    if ctx.portfolio.exotic:
        out["pv_se"] = se  # Monte Carlo standard error of each PV (0 for closed forms)
    if ctx.greeks:
        out.update(greeks.greeks_block(ctx.portfolio, ctx.market, task.rows))
    if ctx.theta_days > 0:
        out["theta"] = theta.theta_block(ctx.portfolio, ctx.market, ctx.theta_days, task.rows)
    return out


def calibrate(ctx: RiskContext, *, sample_rows: int = 16, max_cols: int = 256) -> CostModel:
    """Measure seconds per P&L element and per position on three spread-out row samples.

    Each sample runs twice and the faster run counts (the first pays for warm-up), so the
    estimate errs towards cheap tasks, which the planner's 50 ms floor bounds. Portfolios
    with exotic positions are calibrated per cost unit instead (:func:`calibrate_exotic`).
    """
    if ctx.portfolio.exotic:
        return calibrate_exotic(ctx)
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


def calibrate_exotic(ctx: RiskContext, *, samples: int = 3, cols: int = 4) -> CostModel:
    """Seconds per cost unit (:meth:`Portfolio.cost_units`), measured on a few exotic rows.

    Each sampled row (the costliest, the cheapest and a middle one of the exotic rows) is
    revalued under ``cols`` scenarios; total seconds / (units × columns) over the samples,
    times the mean units per position, gives seconds per P&L element. Small samples keep the
    calibration itself cheap when one MC position costs seconds.
    """
    p = ctx.portfolio
    units = p.cost_units()
    rows = sorted(p.exotic, key=lambda i: units[i])
    picks = sorted({rows[0], rows[len(rows) // 2], rows[-1]})[:samples]
    c = slice(0, min(ctx.scenarios.n, cols))
    n_cols = c.stop + 1  # the block also values the base column
    seconds, work = 0.0, 0.0
    for i in picks:
        best = float("inf")
        for _ in range(2):  # the first run pays for warm-up (imports, caches)
            t0 = time.perf_counter()
            revaluation.pnl_block(p, ctx.market, ctx.scenarios, slice(i, i + 1), c)
            best = min(best, time.perf_counter() - t0)
        seconds += best
        work += units[i] * n_cols
    # pooled fit (total seconds / total units): the costly rows dominate, as they do the job
    per_element = seconds / work * float(units.mean())
    # a pos task values 7 states per position (base + bumps) with Greeks, 1 without
    return CostModel(
        per_element=per_element, per_position=per_element * (7 if ctx.greeks else 1), measured=True
    )


def estimated_cost(ctx: RiskContext, cost: CostModel) -> CostModel:
    """The cost model to plan with: uncalibrated defaults are scaled by the mean cost units."""
    if cost.measured or not ctx.portfolio.exotic:
        return cost
    w = float(ctx.portfolio.cost_units().mean())
    return CostModel(cost.per_element * w, cost.per_position * w, measured=False)
