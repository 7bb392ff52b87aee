"""Deadlines on the local engine: task timeouts, straggler speculation, job and start-up limits."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from grid_helpers import answer
from grid_procs import alive_pids

from riskgrid.grid.engine import (
    EngineUnavailable,
    JobTimedOut,
    Limits,
    task_timeout_from_estimate,
)
from riskgrid.grid.faults import FaultInjector
from riskgrid.grid.local import LocalPoolEngine
from riskgrid.grid.planner import plan_blocks
from riskgrid.grid.synthetic import SyntheticContext, keyed_block
from riskgrid.grid.tasks import Task

N, S = 48, 20
CTX = SyntheticContext(seed=11, weights=np.linspace(1.0, 2.0, N))
EXPECTED = keyed_block(CTX, Task("pnl", 0, N, 0, S))
TASKS = list(plan_blocks(N, S, block_rows=4, block_cols=S, pos_block_rows=N).pnl_tasks)
REPO = Path(__file__).resolve().parents[2]


def _run(engine, fn, limits: Limits, **kw):
    out = np.full((N, S), np.nan)

    def sink(t: Task, v: np.ndarray) -> None:
        out[t.rows, t.cols] = v

    stats = engine.run(fn, CTX, TASKS, on_result=sink, limits=limits, **kw)
    return out, stats


def _no_survivors(engine: LocalPoolEngine) -> None:
    assert engine.started_pids
    assert not alive_pids(engine.started_pids)


def test_task_timeout_scales_the_estimate_with_a_floor():
    timeout = task_timeout_from_estimate(lambda t: t.elements * 0.01, factor=10, min_seconds=2)
    assert timeout(Task("pnl", 0, 1, 0, 1)) == 2.0  # 10 × 0.01 s is under the floor
    assert timeout(Task("pnl", 0, 10, 0, 10)) == pytest.approx(10.0)
    off = task_timeout_from_estimate(lambda t: 1.0, factor=0)
    assert off(Task("pnl", 0, 1, 0, 1)) == math.inf


def test_hung_task_is_stopped_at_its_timeout_and_retried_elsewhere(tmp_path: Path):
    fn = FaultInjector(keyed_block, (("slow-once", TASKS[2].key),), str(tmp_path))
    engine = LocalPoolEngine(2)
    limits = Limits(task_timeout=lambda t: 1.5, speculate_factor=0)
    t0 = time.monotonic()
    out, stats = _run(engine, fn, limits)
    assert time.monotonic() - t0 < 40  # not the 60 s the hung attempt would take
    assert np.array_equal(out, EXPECTED)
    assert stats.timed_out_keys == {TASKS[2].key}
    assert stats.retried_keys == {TASKS[2].key}
    assert stats.worker_deaths == 0  # stopped by the driver, not lost
    assert any("timed out after 1.5 s" in e for e in stats.errors)
    assert len(engine.started_pids) == 3  # the hung worker was replaced
    _no_survivors(engine)


def test_straggler_gets_a_duplicate_and_the_first_copy_wins(tmp_path: Path):
    # The last task straggles (60 s on its first run); its duplicate is fast.
    fn = FaultInjector(keyed_block, (("slow-once", TASKS[-1].key),), str(tmp_path))
    engine = LocalPoolEngine(2)
    limits = Limits(speculate_factor=4.0, speculate_min_seconds=0.5)
    t0 = time.monotonic()
    out, stats = _run(engine, fn, limits)
    assert time.monotonic() - t0 < 40
    assert np.array_equal(out, EXPECTED)  # same answer whichever copy won
    assert stats.speculative == 1 and stats.speculative_wins == 1
    assert stats.timed_out == 0 and stats.retried == 0
    assert stats.completed == len(TASKS)
    _no_survivors(engine)  # the losing copy's worker was stopped


def test_job_deadline_fails_the_run_naming_what_did_not_finish(tmp_path: Path):
    fn = FaultInjector(keyed_block, (("slow", TASKS[1].key),), str(tmp_path))
    engine = LocalPoolEngine(2)
    limits = Limits(job_seconds=2.0, speculate_factor=0)
    t0 = time.monotonic()
    with pytest.raises(JobTimedOut) as info:
        _run(engine, fn, limits)
    assert time.monotonic() - t0 < 30
    msg = str(info.value)
    assert "job deadline of 2 s passed" in msg and TASKS[1].key in msg
    assert "tasks unfinished" in msg
    _no_survivors(engine)


def test_worker_that_never_starts_hits_the_startup_deadline(tmp_path: Path, monkeypatch):
    (tmp_path / "rg_slow_import.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # the workers inherit the driver's sys.path
    engine = LocalPoolEngine(1, preload=("rg_slow_import",))
    with pytest.raises(EngineUnavailable, match=r"did not start within 1 s"):
        _run(engine, keyed_block, Limits(startup_seconds=1.0))
    _no_survivors(engine)


def test_cli_counts_timed_out_tasks_in_result_json(
    small_job_path: Path, small_inputs, tmp_path: Path
):
    from riskgrid.grid.runner import execute

    env = dict(os.environ)
    env["RISKGRID_TEST_FAULTS"] = "slow-once:#1"
    env["RISKGRID_TEST_FAULTS_DIR"] = str(tmp_path / "m")
    proc = subprocess.run(
        [sys.executable, "-m", "riskgrid.cli.main", "run", str(small_job_path), "--json",
         "-o", str(tmp_path / "o"), "--workers", "2", "--task-timeout-factor", "1",
         "--task-timeout-min", "2", "--no-speculation"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = json.loads(proc.stdout)
    assert body["tasks"]["timedOut"] == 1 and body["tasks"]["retried"] == 1
    assert body["tasks"]["nodes"] == {"local": body["tasks"]["total"]}
    local = execute(small_inputs, workers=1)
    assert answer(body) == answer(local.result.model_dump(by_alias=True, mode="json"))
