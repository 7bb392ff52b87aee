"""Streaming aggregation: bounded driver memory, shards on disk, order-independent bits, budget."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskgrid.cli.main import main
from riskgrid.grid.aggregate import Assembly, aggregate
from riskgrid.grid.budget import Budget, BudgetExceeded, parse_bytes
from riskgrid.grid.jobtask import RiskContext, run_risk_task
from riskgrid.grid.planner import plan_blocks
from riskgrid.grid.runner import execute
from riskgrid.grid.shards import ShardStore
from riskgrid.risk import measures as rm
from riskgrid.risk.revaluation import pnl_block


def _feed(inputs: Any, tmp: Path, br: int, bc: int, order_seed: int, reorder_bytes: int):
    """Run the plan's tasks in-process in a shuffled order into a streaming Assembly."""
    ctx = RiskContext(inputs.portfolio, inputs.market, inputs.scenarios, True)
    p = plan_blocks(
        inputs.portfolio.n, inputs.scenarios.n, block_rows=br, block_cols=bc, pos_block_rows=br
    )
    shards = ShardStore(tmp / f"s-{br}-{bc}-{order_seed}")
    asm = Assembly(
        inputs.portfolio, inputs.scenarios.n, ("desk", "book", "underlying"), True, shards,
        reorder_bytes,
    )  # fmt: skip
    tasks = list(p.tasks)
    random.Random(order_seed).shuffle(tasks)
    for t in tasks:
        value = run_risk_task(ctx, t)
        shards.save(t, value)
        asm.place(t, value)
    asm.check_complete(p.tasks)
    return asm, p


@pytest.mark.parametrize(
    ("br", "bc", "seed", "reorder"),
    [(3200, 504, 0, 0), (777, 97, 1, 2**30), (101, 504, 2, 0), (333, 50, 3, 200_000)],
)
def test_group_vectors_bit_identical_to_the_full_matrix_sums(
    big_inputs: Any, tmp_path: Path, br: int, bc: int, seed: int, reorder: int
):
    """Any blocking, any arrival order, buffered in memory or re-read from the shards."""
    i = big_inputs
    full = pnl_block(i.portfolio, i.market, i.scenarios)
    asm, _ = _feed(i, tmp_path, br, bc, seed, reorder)
    assert np.array_equal(asm.portfolio_pnl, full.sum(axis=0))
    for key, g in asm.groupings.items():
        labels = i.portfolio.groups[key]
        for code, label in enumerate(g.labels):
            assert np.array_equal(g.vectors[code], full[labels == label].sum(axis=0)), (key, label)
    # nothing the size of the matrix is kept: every array is O(S × groups) or O(P)
    big = [n for n, v in vars(asm).items() if isinstance(v, np.ndarray) and v.size >= full.size]
    assert big == []
    assert asm.peak_buffered <= reorder


def test_component_var_and_es_from_shards_match_the_matrix(big_inputs: Any, tmp_path: Path):
    i = big_inputs
    full = pnl_block(i.portfolio, i.market, i.scenarios)
    asm, p = _feed(i, tmp_path, 500, 97, 7, 0)
    agg = aggregate(asm, p.tasks, var_levels=(0.99,), es_levels=(0.975,), top_n=5)
    cvar = rm.component_var(full, 0.99)
    ces = rm.component_es(full, 0.975)
    order = np.argsort(-cvar, kind="stable")[:5]
    top = agg.top["positions"]
    assert [t["id"] for t in top] == [str(i.portfolio.ids[k]) for k in order]
    assert [t["componentVar"] for t in top] == [float(cvar[k]) for k in order]
    np.testing.assert_allclose([t["componentEs"] for t in top], ces[order], rtol=1e-12, atol=1e-9)
    # the Euler allocation still adds up to the portfolio ES
    asm2, p2 = _feed(i, tmp_path, 3200, 504, 8, 0)
    from riskgrid.grid.aggregate import component_from_shards

    all_ces = component_from_shards(asm2, p2.tasks, rm.tail_weights(asm2.portfolio_pnl, 0.975))
    assert all_ces.sum() == pytest.approx(rm.es(asm2.portfolio_pnl, 0.975), rel=1e-9)
    # the ``linear`` convention weighs two scenarios: the same weights, read from the shards
    lin = component_from_shards(asm, p.tasks, rm.var_weights(asm.portfolio_pnl, 0.99, "linear"))
    np.testing.assert_allclose(lin, rm.component_var(full, 0.99, "linear"), rtol=1e-12, atol=1e-6)
    assert lin.sum() == pytest.approx(rm.var(full.sum(axis=0), 0.99, "linear"), rel=1e-9)


def test_driver_never_allocates_the_matrix_and_pnl_loads_on_request(
    big_inputs: Any, tmp_path: Path
):
    n, s = big_inputs.portfolio.n, big_inputs.scenarios.n
    matrix_bytes = 8 * n * s
    tracemalloc.start()
    try:
        ex = execute(  # on the pool: tasks in process would count their temporaries here
            big_inputs,
            workers=1,
            block_rows=200,
            calibrate_cost=False,
            work_dir=tmp_path / "w",
            in_process=False,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ex.result.status == "completed"
    assert peak < matrix_bytes / 2, f"driver peak {peak:,} B vs matrix {matrix_bytes:,} B"
    assert ex._pnl is None  # not loaded during the run
    work = list((tmp_path / "w").iterdir())
    assert len(work) == 1 and any(work[0].glob("pnl-*.parquet"))
    full = pnl_block(big_inputs.portfolio, big_inputs.market, big_inputs.scenarios)
    assert np.array_equal(ex.pnl, full)
    ex.close()
    assert list((tmp_path / "w").iterdir()) == []  # shards removed with the execution
    assert ex.pnl is not None  # what was loaded stays


def test_failed_run_leaves_no_work_directory(
    small_inputs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "raise-always:#0")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "m"))
    ex = execute(small_inputs, workers=1, max_retries=0, work_dir=tmp_path / "w")
    assert ex.result.status == "failed" and ex.pnl is None
    assert list((tmp_path / "w").iterdir()) == []


def test_over_task_budget_refused_before_start(small_inputs: Any, tmp_path: Path):
    with pytest.raises(BudgetExceeded, match=r"tasks planned, budget 2 \(--max-tasks\)"):
        execute(
            small_inputs,
            workers=1,
            block_rows=1,
            budget=Budget(max_tasks=2),
            out_dir=tmp_path / "out",
            checkpoint=tmp_path / "ck",
            work_dir=tmp_path / "w",
        )
    assert list(tmp_path.iterdir()) == []  # no results, checkpoint or work directory


def test_cli_memory_budget_exits_2_with_the_estimate(small_job_path: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(small_job_path), "-o", str(out), "--max-driver-memory", "64KiB",
               "--max-worker-memory", "1k", "--work-dir", str(tmp_path / "w"), "-q"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith(f"error: {small_job_path}: job refused before it started")
    assert "driver memory estimated" in err and "budget 64.0 KiB (--max-driver-memory)" in err
    assert "worker memory estimated" in err and "nothing was run or written" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_size_exits_2(small_job_path: Path, tmp_path: Path, capsys):
    rc = main(
        ["run", str(small_job_path), "-o", str(tmp_path / "o"), "--max-driver-memory", "lots"]
    )
    assert rc == 2
    assert "not a size: 'lots'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_parse_bytes_units():
    assert parse_bytes("512MiB") == 512 * 2**20
    assert parse_bytes("8G") == 8 * 2**30
    assert parse_bytes("1.5GiB") == 3 * 2**29
    assert parse_bytes("1000") == 1000
