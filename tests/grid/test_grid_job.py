"""run_job on the example jobs (local engine): determinism, faults, checkpoints, results."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from grid_helpers import answer, read_dir

from riskgrid.grid.checkpoint import CheckpointMismatch
from riskgrid.grid.runner import execute, run_job
from riskgrid.risk import measures as rm
from riskgrid.risk.revaluation import base_pv, pnl_block
from riskgrid.spec.registry import json_schema
from riskgrid.spec.result import Result


def test_answer_equals_a_direct_serial_computation(big_inputs: Any, big_baseline):
    ex, _ = big_baseline
    i = big_inputs
    full = pnl_block(i.portfolio, i.market, i.scenarios)
    assert np.array_equal(ex.pnl, full)
    port = full.sum(axis=0)
    r = ex.result
    assert r.portfolio.var["0.99"] == rm.var(port, 0.99)
    assert r.portfolio.es["0.975"] == rm.es(port, 0.975)
    assert r.portfolio.pv == float(base_pv(i.portfolio, i.market).sum())
    desks = sorted(set(i.portfolio.groups["desk"].tolist()))
    assert list(r.groups["desk"]) == desks
    assert sum(m.positions for m in r.groups["desk"].values()) == i.portfolio.n
    top = r.top_contributors.positions
    assert len(top) == 10
    assert [p.component_var for p in top] == sorted((p.component_var for p in top), reverse=True)
    assert r.tasks.total > 1
    assert r.greeks["total"]["total"]["vega"] != 0.0


def test_bit_identical_with_one_worker_and_other_block_sizes(
    big_inputs: Any, big_baseline, tmp_path: Path
):
    ex0, (body0, tables0) = big_baseline
    ex1 = execute(big_inputs, workers=1, block_rows=777, block_cols=97, out_dir=tmp_path / "r")
    body1, tables1 = read_dir(tmp_path / "r")
    assert ex1.result.plan.block_cols == 97 and ex0.result.plan.block_cols != 97
    assert ex1.result.tasks.total != ex0.result.tasks.total
    assert answer(body1) == answer(body0)
    assert tables1 == tables0
    assert np.array_equal(ex1.pnl, ex0.pnl)


def test_results_directory_matches_its_schema(big_baseline):
    _, (body, tables) = big_baseline
    jsonschema.validate(body, json_schema("Result"))
    Result.model_validate(body)
    assert set(body["portfolio"]["var"]) == {"0.99", "0.975"}
    assert {"pnl_portfolio.parquet", "pnl_desk.parquet", "pnl_positions.parquet"} <= set(tables)
    port = tables["pnl_portfolio.parquet"]
    assert len(port["pnl"]) == body["scenarios"]
    assert rm.var(np.array(port["pnl"]), 0.99) == body["portfolio"]["var"]["0.99"]
    desk = tables["pnl_desk.parquet"]
    assert set(desk) == {"scenario", *body["groups"]["desk"]}
    assert body["inputs"]["fingerprint"] and len(body["inputs"]["portfolio"]) == 64


def test_killed_worker_does_not_change_the_answer(
    big_inputs: Any, big_baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _, (body0, tables0) = big_baseline
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "exit:#5,raise:#1")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "markers"))
    # Fixed blocks: a calibrated plan on a quiet machine may have fewer than 6 tasks.
    ex = execute(big_inputs, workers=2, block_rows=400, out_dir=tmp_path / "r")
    assert ex.result.status == "completed"
    assert ex.result.tasks.retried == 2 and ex.result.tasks.worker_deaths == 1
    body, tables = read_dir(tmp_path / "r")
    assert answer(body) == answer(body0)
    assert tables == tables0


def test_permanent_failure_reports_failed_and_writes_nothing(
    small_inputs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "raise-always:#0")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "markers"))
    r = run_job(small_inputs, workers=2, max_retries=1, out_dir=tmp_path / "out")
    assert r.status == "failed"
    assert r.portfolio is None and r.groups == {}
    assert r.tasks.failed == 1
    assert "failed 2 time(s)" in r.message and "injected permanent failure" in r.message
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["markers"]  # no temp dir left behind


def test_cancel_returns_cancelled_and_writes_nothing(small_inputs: Any, tmp_path: Path):
    stop = threading.Event()
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done >= 1:
            stop.set()

    r = run_job(
        small_inputs,
        workers=1,
        block_rows=1,
        out_dir=tmp_path / "out",
        cancel=stop,
        progress=progress,
    )
    assert r.status == "cancelled" and "unfinished" in r.message
    assert r.portfolio is None
    assert r.tasks.completed < r.tasks.total
    assert calls[0] == (0, r.tasks.total)
    assert not (tmp_path / "out").exists()


def test_checkpoint_resumes_without_recomputing(small_inputs: Any, tmp_path: Path):
    ck = tmp_path / "ck"
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 3:
            stop.set()

    first = run_job(
        small_inputs, workers=1, block_rows=1, checkpoint=ck, cancel=stop, progress=progress
    )
    assert first.status == "cancelled"
    saved = len(list((ck / "tasks").glob("*.parquet")))
    assert saved >= 3
    # The rerun may calibrate differently; the checkpoint's recorded plan wins.
    second = run_job(small_inputs, workers=2, checkpoint=ck, out_dir=tmp_path / "out")
    assert second.status == "completed"
    assert second.tasks.from_checkpoint == saved
    assert second.tasks.attempts == second.tasks.total - saved
    assert second.plan.block_rows == 1
    plain = run_job(small_inputs, workers=2)
    assert answer(second.model_dump(by_alias=True)) == answer(plain.model_dump(by_alias=True))


def test_checkpoint_of_other_inputs_is_refused(small_inputs: Any, big_inputs: Any, tmp_path: Path):
    ck = tmp_path / "ck"
    assert run_job(small_inputs, workers=1, checkpoint=ck).status == "completed"
    with pytest.raises(CheckpointMismatch, match="other inputs"):
        run_job(big_inputs, workers=1, checkpoint=ck)


def test_schema_command_prints_the_result_schema():
    from typer.testing import CliRunner

    from riskgrid.cli.main import app

    res = CliRunner().invoke(app, ["schema", "Result"])
    assert res.exit_code == 0
    schema = json.loads(res.stdout)
    assert {"status", "portfolio", "groups", "tasks", "engine", "workers"} <= set(
        schema["properties"]
    )
