"""The local process-pool engine: context once per worker, retries, dead workers, cancel."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from riskgrid.grid.engine import JobCancelled, JobFailed
from riskgrid.grid.faults import FaultInjector
from riskgrid.grid.local import LocalPoolEngine
from riskgrid.grid.planner import plan_blocks
from riskgrid.grid.synthetic import SyntheticContext, context_identity, keyed_block, sleep
from riskgrid.grid.tasks import Task

N, S = 60, 30
CTX = SyntheticContext(seed=5, weights=np.linspace(1.0, 3.0, N))
EXPECTED = keyed_block(CTX, Task("pnl", 0, N, 0, S))


def _tasks(block_rows: int, block_cols: int) -> list[Task]:
    p = plan_blocks(N, S, block_rows=block_rows, block_cols=block_cols, pos_block_rows=N)
    return list(p.pnl_tasks)


def _run(engine: LocalPoolEngine, fn, tasks, **kw):
    out = np.full((N, S), np.nan)

    def sink(t: Task, v: np.ndarray) -> None:
        out[t.rows, t.cols] = v

    stats = engine.run(fn, CTX, tasks, on_result=sink, **kw)
    return out, stats


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose: it runs nothing and is reaped by its parent.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def _assert_no_survivors(engine: LocalPoolEngine) -> None:
    assert engine.started_pids
    assert not [p for p in engine.started_pids if _alive(p)]


@pytest.mark.parametrize(("workers", "br", "bc"), [(1, 60, 30), (2, 7, 30), (2, 9, 4)])
def test_same_matrix_for_any_worker_count_and_blocking(workers: int, br: int, bc: int):
    engine = LocalPoolEngine(workers)
    out, stats = _run(engine, keyed_block, _tasks(br, bc))
    assert np.array_equal(out, EXPECTED)
    assert stats.completed == len(_tasks(br, bc)) and stats.retried == 0
    _assert_no_survivors(engine)


def test_context_reaches_each_worker_once():
    engine = LocalPoolEngine(2)
    seen: list[tuple[int, int]] = []
    tasks = [Task("pnl", i, i + 1, 0, 1) for i in range(40)]
    engine.run(context_identity, CTX, tasks, on_result=lambda t, v: seen.append(v))
    by_pid: dict[int, set[int]] = {}
    for pid, ident in seen:
        by_pid.setdefault(pid, set()).add(ident)
    assert len(seen) == 40
    assert 1 <= len(by_pid) <= 2
    assert all(len(ids) == 1 for ids in by_pid.values())  # never re-sent or re-unpickled
    assert engine.context_sends == len(engine.started_pids) == 2


def test_started_pool_serves_several_runs_then_closes():
    engine = LocalPoolEngine(2)
    engine.start()
    try:
        first, _ = _run(engine, keyed_block, _tasks(7, 30))
        other = SyntheticContext(seed=6, weights=np.ones(N))
        second = np.full((N, S), np.nan)

        def sink(t: Task, v: np.ndarray) -> None:
            second[t.rows, t.cols] = v

        engine.run(keyed_block, other, _tasks(9, 4), on_result=sink)
        assert np.array_equal(first, EXPECTED)
        assert np.array_equal(second, keyed_block(other, Task("pnl", 0, N, 0, S)))
        assert len(engine.started_pids) == 2  # the same two processes served both runs
        assert engine.context_sends == 4  # each run's context once per worker
    finally:
        engine.close()
    _assert_no_survivors(engine)


def test_worker_killed_mid_run_is_replaced_and_answer_unchanged(tmp_path: Path):
    tasks = _tasks(7, 10)
    fn = FaultInjector(keyed_block, (("exit", tasks[4].key),), str(tmp_path))
    engine = LocalPoolEngine(2)
    out, stats = _run(engine, fn, tasks)
    assert np.array_equal(out, EXPECTED)
    assert stats.worker_deaths == 1
    assert stats.retried_keys == {tasks[4].key}
    assert "worker process died (exit code 17)" in stats.errors[0]
    assert len(engine.started_pids) == 3  # two workers + one replacement
    _assert_no_survivors(engine)


def test_task_that_raises_once_is_retried(tmp_path: Path):
    tasks = _tasks(7, 10)
    fn = FaultInjector(keyed_block, (("raise", tasks[0].key),), str(tmp_path))
    out, stats = _run(LocalPoolEngine(2), fn, tasks)
    assert np.array_equal(out, EXPECTED)
    assert stats.retried == 1 and stats.failed == 0
    assert "InjectedFault" in stats.errors[0]


def test_permanent_failure_stops_the_run_with_a_clear_message(tmp_path: Path):
    tasks = _tasks(7, 10)
    fn = FaultInjector(keyed_block, (("raise-always", tasks[2].key),), str(tmp_path))
    engine = LocalPoolEngine(2)
    with pytest.raises(JobFailed) as info:
        _run(engine, fn, tasks, max_retries=1)
    msg = str(info.value)
    assert tasks[2].key in msg and "failed 2 time(s)" in msg and "injected permanent" in msg
    assert info.value.stats.failed == 1
    _assert_no_survivors(engine)


def test_cancel_stops_workers_and_raises(tmp_path: Path):
    engine = LocalPoolEngine(2)
    ctx = SyntheticContext(seed=0, weights=np.ones(1), spin_seconds=0.2)
    tasks = [Task("pnl", i, i + 1, 0, 1) for i in range(50)]
    stop = threading.Event()
    done: list[int] = []

    def sink(t: Task, v: int) -> None:
        done.append(v)
        if len(done) == 2:
            stop.set()

    with pytest.raises(JobCancelled, match="unfinished"):
        engine.run(sleep, ctx, tasks, on_result=sink, cancel=stop.is_set)
    assert 2 <= len(done) < 50
    _assert_no_survivors(engine)
