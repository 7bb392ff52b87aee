"""Exotic (Monte Carlo / PDE) jobs on the grid: bit-identical across workers, block sizes,
engines and resumed checkpoints; common random numbers; standard errors in the outputs;
the cost budget."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from grid_helpers import answer, read_dir

from riskgrid.grid.runner import execute, run_job
from riskgrid.risk import greeks, revaluation
from riskgrid.spec.errors import RiskgridError
from riskgrid.spec.job import load_job

REPO = Path(__file__).resolve().parents[2]

JOB = """\
apiVersion: riskgrid.dev/v1alpha1
kind: RiskJob
metadata: {{name: exotics-mini}}
spec:
  valuationDate: 2026-11-20
  portfolio:
    positions:
      - {{id: as-arith, type: asian_option, underlying: ACME, strike: 41, expiry: 2027-06-18,
         optionType: call, quantity: 1000, fixingCount: 7, fixingFrequency: 1M}}
      - {{id: as-past, type: asian_option, underlying: EURUSD, strike: 1.08, expiry: 2027-02-20,
         optionType: put, quantity: 100000, fixingDates: [2026-10-20, 2026-12-20, 2027-02-20],
         pastFixings: {{2026-10-20: 1.07}}}}
      - {{id: as-strike, type: asian_option, underlying: KORA, averageOn: strike,
         expiry: 2027-05-20, optionType: call, quantity: -500, fixingCount: 6,
         fixingFrequency: 1M}}
      - {{id: ba-cont, type: barrier_option, underlying: ACME, strike: 40, expiry: 2027-06-18,
         optionType: call, quantity: 1000, barrier: 33, barrierType: down-out, rebate: 1}}
      - {{id: ba-weekly, type: barrier_option, underlying: BOLT, strike: 300, expiry: 2027-05-20,
         optionType: put, quantity: 50, barrier: 360, barrierType: up-out, monitoring: 1W}}
      - {{id: am-put, type: american_option, underlying: KORA, strike: 60, expiry: 2027-08-20,
         optionType: put, quantity: 800}}
      - {{id: he-call, type: equity_option, model: heston, underlying: ACME, strike: 42,
         expiry: 2027-06-18, optionType: call, quantity: 1000}}
      - {{id: he-asian, type: asian_option, model: heston, underlying: ACME, strike: 40,
         expiry: 2027-03-18, optionType: put, quantity: 1000, fixingCount: 4,
         fixingFrequency: 1M}}
      - {{id: spot-hedge, type: spot, underlying: ACME, quantity: -300}}
  marketData:
    snapshot: {root}/examples/market/snapshot-2026-11-20.yaml
    history: {root}/examples/market/history.csv
  scenarios:
    historical: {{window: 8}}
    stress:
      - name: tiny-up
        shocks: [{{factor: "spot:ACME", shift: 0.0005}}, {{factor: "spot:KORA", shift: 0.0005}},
                 {{factor: "spot:BOLT", shift: 0.0005}}]
  pricing:
    monteCarlo: {{paths: 512, stepsPerYear: 12}}
    american: {{spaceNodes: 101, timeSteps: 40}}
    heston:
      ACME: {{v0: 0.09, kappa: 2.0, theta: 0.08, sigma: 0.6, rho: -0.7}}
  grid: {{seed: 7{extra_grid}}}
  measures: {{groupBy: [book]}}
"""


def write_job(tmp: Path, extra_grid: str = "") -> Path:
    path = tmp / "exotics-mini.yaml"
    path.write_text(JOB.format(root=REPO, extra_grid=extra_grid))
    return path


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_job(write_job(tmp_path_factory.mktemp("job")))


@pytest.fixture(scope="module")
def mini_baseline(mini: Any, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("base") / "r"
    ex = execute(mini, workers=1, out_dir=out, calibrate_cost=False)
    return ex, read_dir(out)


def test_mc_outputs_carry_standard_errors(mini: Any, mini_baseline) -> None:
    _ex, (body, tables) = mini_baseline
    mc = body["monteCarlo"]
    p = mini.portfolio
    assert mc["positions"] == len(p.mc_rows()) >= 4 and mc["paths"] == 512
    pos = tables["positions.parquet"]
    ids = pos["id"]
    se = dict(zip(ids, pos["pv_se"], strict=True))
    for i in range(p.n):
        if i in p.mc_rows():
            assert se[str(p.ids[i])] > 0
        else:  # closed forms, PDE, Lewis, spot
            assert se[str(p.ids[i])] == 0.0
    assert mc["pvStandardError"] == pytest.approx(float(np.sqrt(np.sum(np.square(pos["pv_se"])))))
    assert pos["pv"] == pytest.approx(list(revaluation.base_pv(p, mini.market)), rel=0, abs=0)


def test_bit_identical_across_workers_and_block_sizes(mini: Any, mini_baseline, tmp_path: Path):
    ex0, (body0, tables0) = mini_baseline
    ex1 = execute(mini, workers=2, block_rows=2, block_cols=5, out_dir=tmp_path / "r")
    body1, tables1 = read_dir(tmp_path / "r")
    assert ex1.result.tasks.total != ex0.result.tasks.total
    assert answer(body1) == answer(body0)
    assert tables1 == tables0
    assert np.array_equal(ex1.pnl, ex0.pnl)


def test_resumed_checkpoint_is_bit_identical(mini: Any, mini_baseline, tmp_path: Path):
    ex0, (body0, _) = mini_baseline
    ck = tmp_path / "ck"
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 4:
            stop.set()

    first = run_job(mini, workers=1, block_rows=1, checkpoint=ck, cancel=stop, progress=progress)
    assert first.status == "cancelled"
    second = execute(mini, workers=2, checkpoint=ck, out_dir=tmp_path / "out")
    assert second.result.tasks.from_checkpoint >= 4
    body, _ = read_dir(tmp_path / "out")
    assert answer(body) == answer(body0)
    assert np.array_equal(second.pnl, ex0.pnl)


@pytest.mark.ray
def test_ray_engine_is_bit_identical(mini: Any, mini_baseline, tmp_path: Path):
    from riskgrid.grid.ray_engine import _import_ray

    # Ray as the engine imports it: with Ray's `uv run` hook off. `ray.init` below would
    # otherwise (under `uv run pytest`, as CI runs) start workers through `uv run` in an
    # uploaded copy of the working directory, where the project's uv does not exist.
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ex = execute(mini, engine="ray", block_rows=3, block_cols=4, out_dir=tmp_path / "r")
    finally:
        if started:
            ray.shutdown()
    ex0, (body0, tables0) = mini_baseline
    body, tables = read_dir(tmp_path / "r")
    assert body["engine"] == "ray"
    assert answer(body) == answer(body0) and tables == tables0
    assert np.array_equal(ex.pnl, ex0.pnl)


def test_small_shock_pnl_is_delta_times_shock(mini: Any, mini_baseline) -> None:
    """Common random numbers: the P&L of a 0.05% spot move equals delta × ΔS (+ ½ΓΔS²), for
    MC positions too, with an error far below the price's own MC standard error (independent
    paths for base and scenario would give P&L noise of about √2·SE)."""
    ex0, _ = mini_baseline
    p, m = mini.portfolio, mini.market
    col = mini.scenarios.labels.index("stress:tiny-up")
    pnl = ex0.pnl[:, col]
    g = greeks.greeks_block(p, m)
    base = revaluation.base_states(p, m, slice(None))
    moved = revaluation.scenario_states(p, m, mini.scenarios, slice(None), slice(col, col + 1))
    ds = moved.spot[:, 0] - base.spot[:, 0]
    assert np.array_equal(moved.conv, base.conv)  # no FX move: P&L is the price move alone
    _, pv_se = revaluation.base_pv_se(p, m)
    checked = 0
    for i in range(p.n):
        if p.spot_idx[i] < 0:
            continue
        predicted = g["delta"][i] * ds[i] + 0.5 * g["gamma"][i] * ds[i] ** 2
        # discontinuous MC payoffs (barriers) may flip a path or two: allow 5% of one SE
        assert pnl[i] == pytest.approx(predicted, rel=2e-3, abs=0.05 * pv_se[i] + 1e-9), str(
            p.ids[i]
        )
        if i in p.mc_rows():
            assert abs(pnl[i] - predicted) < 0.05 * pv_se[i]
            checked += 1
    assert checked >= 3


def test_budget_refuses_the_job_before_it_starts(tmp_path: Path) -> None:
    inputs = load_job(write_job(tmp_path, extra_grid=", maxCostSeconds: 0.001"))
    with pytest.raises(RiskgridError, match=r"estimated cost [0-9.,]+ s on one core .* exceeds"):
        run_job(inputs, workers=1, out_dir=tmp_path / "out", calibrate_cost=False)
    assert not (tmp_path / "out").exists()


def test_memory_bound_chunks_columns_without_changing_values(mini: Any) -> None:
    """A tiny per-worker memory bound forces one scenario column per kernel call."""
    import dataclasses

    p = mini.portfolio
    small = dataclasses.replace(p, settings=dataclasses.replace(p.settings, memory_bytes=1))
    a = revaluation.pnl_block(p, mini.market, mini.scenarios)
    b = revaluation.pnl_block(small, mini.market, mini.scenarios)
    assert np.array_equal(a, b)


def test_parquet_standard_errors_match_result(mini_baseline) -> None:
    _, (body, tables) = mini_baseline
    assert body["monteCarlo"]["maxPositionStandardError"] == max(
        tables["positions.parquet"]["pv_se"]
    )
    assert pq  # Parquet read through read_dir


def test_theta_rolls_exotic_dates_and_values_expiries(mini: Any) -> None:
    from riskgrid.risk import exotics, theta

    p, m = mini.portfolio, mini.market
    pv, se = revaluation.base_pv_se(p, m)
    one_day = theta.theta_block(p, m, 1.0)
    assert np.all(np.isfinite(one_day))
    for i in p.exotic:  # one day of decay is small against the value (+ MC noise, see docs)
        assert abs(one_day[i]) < 0.05 * abs(pv[i]) + 3 * np.sqrt(2) * se[i] + 1.0, str(p.ids[i])
    # as-past (expiry 2027-02-20, 92 days): expired within 100 days, fixings at today's spot
    i = list(p.ids).index("as-past")
    spec = p.exotic[i]
    spot = float(m.spots[p.spot_idx[i]])
    rolled = exotics.rolled(spec, 100.0, spot)
    assert rolled.t <= 0 and rolled.fix_times == ()
    assert rolled.past_sum == pytest.approx(spec.past_sum + 2 * spot)
    conv = revaluation.base_states(p, m, slice(i, i + 1)).conv[0, 0]
    expected = p.quantity[i] * exotics.value_at_expiry(rolled, spot) * conv - pv[i]
    assert theta.theta_block(p, m, 100.0)[i] == pytest.approx(expected, rel=1e-12)


def test_cost_weighted_plan_splits_heavy_rows_and_stays_bit_identical(
    mini: Any, mini_baseline, tmp_path: Path
) -> None:
    """A memory bound of a few columns of the heaviest position makes the planner share its
    scenarios across tasks (row bands cut into different column ranges); the streamed
    aggregation folds them per column in row order: the same bits as one worker with the
    default plan, on 2 workers and on a resume of a cancelled run."""
    import dataclasses

    from riskgrid.grid.planner import plan_weighted

    p = mini.portfolio
    mem = int(4 * p.column_bytes().max())
    small = dataclasses.replace(
        mini,
        portfolio=dataclasses.replace(
            p, settings=dataclasses.replace(p.settings, memory_bytes=mem)
        ),
    )
    plan = plan_weighted(
        p.cost_units(),
        mini.scenarios.n,
        col_bytes=p.column_bytes(),
        memory_bytes=mem,
        workers=2,
    )
    assert any(parts > 1 for _, _, parts in plan.bands)
    assert max(plan.task_bytes.values()) <= mem
    ex0, (body0, tables0) = mini_baseline
    ex = execute(small, workers=2, out_dir=tmp_path / "r", calibrate_cost=False)
    body, tables = read_dir(tmp_path / "r")
    assert ex.result.tasks.total == len(plan.tasks)
    # the same answer (the inputs' hash differs: the memory bound is part of the portfolio)
    a, a0 = answer(body), answer(body0)
    assert a.pop("inputs") != a0.pop("inputs")
    assert a == a0 and tables == tables0
    assert np.array_equal(ex.pnl, ex0.pnl)
    # resume: cancel after a few tasks, finish from the checkpoint with the recorded bands
    ck = tmp_path / "ck"
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 3:
            stop.set()

    first = run_job(small, workers=1, checkpoint=ck, cancel=stop, progress=progress,
                    calibrate_cost=False)  # fmt: skip
    assert first.status == "cancelled"
    second = execute(small, workers=2, checkpoint=ck, out_dir=tmp_path / "out")
    assert second.result.tasks.from_checkpoint >= 3
    assert np.array_equal(second.pnl, ex0.pnl)


def test_bands_cut_differently_fold_to_the_full_matrix_sums(mini: Any, tmp_path: Path) -> None:
    """Streaming aggregation of a weighted plan whose row bands cut the scenarios differently
    (costs scaled up so that rows get bands of their own; a memory bound of a few columns of
    the heaviest row splits the Monte Carlo bands, not the closed-form ones), tasks arriving in
    shuffled orders, buffered or re-read from shards: group vectors equal the sums of the full
    matrix bit for bit."""
    import random

    from riskgrid.grid.aggregate import Assembly
    from riskgrid.grid.jobtask import RiskContext, run_risk_task
    from riskgrid.grid.planner import CostModel, plan_weighted
    from riskgrid.grid.shards import ShardStore

    p, sc = mini.portfolio, mini.scenarios
    plan = plan_weighted(
        p.cost_units(),
        sc.n,
        cost=CostModel(per_element=0.2, per_position=1.0, measured=True),
        col_bytes=p.column_bytes(),
        memory_bytes=int(4 * p.column_bytes().max()),  # the heaviest rows: a few columns each
        workers=2,
    )
    assert len(plan.bands) > 2 and len({parts for _, _, parts in plan.bands}) > 1
    ctx = RiskContext(p, mini.market, sc, True)
    results = {t.key: run_risk_task(ctx, t) for t in plan.tasks}
    full = revaluation.pnl_block(p, mini.market, sc)
    for seed, reorder in ((0, 2**30), (1, 0), (2, 2**30)):
        shards = ShardStore(tmp_path / f"s{seed}")
        asm = Assembly(p, sc.n, ("book",), True, shards, reorder)
        tasks = list(plan.tasks)
        random.Random(seed).shuffle(tasks)
        for t in tasks:
            shards.save(t, results[t.key])
            asm.place(t, results[t.key])
        asm.check_complete(plan.tasks)
        assert np.array_equal(asm.portfolio_pnl, full.sum(axis=0))
        g = asm.groupings["book"]
        for code, label in enumerate(g.labels):
            assert np.array_equal(g.vectors[code], full[p.groups["book"] == label].sum(axis=0))
