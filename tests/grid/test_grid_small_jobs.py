"""Small jobs run in the driver process (no pool) with the same answer, bit for bit.

The rule (``docs/grid.md``, "Small jobs"): a local job whose estimated cost is below the
measured cost of starting one worker runs in process. The measured cost lives in a small cache
file; these tests point it at their own directory and set it to decide each way.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from grid_helpers import answer, read_dir

from riskgrid.grid import arrow
from riskgrid.grid.engine import JobCancelled, JobFailed, RunStats
from riskgrid.grid.inprocess import InProcessEngine
from riskgrid.grid.local import (
    DEFAULT_SPAWN_SECONDS,
    LocalPoolEngine,
    record_spawn_seconds,
    spawn_seconds,
)
from riskgrid.grid.runner import execute, in_process_break_even
from riskgrid.grid.shards import MemoryShardStore, ShardStore
from riskgrid.grid.synthetic import SyntheticContext, noop
from riskgrid.grid.tasks import Task


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RISKGRID_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_spawn_cost_is_measured_by_the_pool_and_remembered(cache: Path) -> None:
    assert spawn_seconds() == DEFAULT_SPAWN_SECONDS  # nothing measured yet
    eng = LocalPoolEngine(2)
    tasks = [Task("pnl", i, i + 1, 0, 1) for i in range(4)]
    eng.run(noop, SyntheticContext(0, np.ones(1)), tasks, on_result=lambda t, v: None)
    assert len(eng.spawn_times) == 2 and all(0 < s < 60 for s in eng.spawn_times)
    assert spawn_seconds() == pytest.approx(float(np.median(eng.spawn_times)), abs=1e-4)
    (cache / "local-pool.json").write_text("not json")
    assert spawn_seconds() == DEFAULT_SPAWN_SECONDS  # a damaged record is ignored


def test_small_job_runs_in_process_bit_identical_to_the_pool(
    cache: Path, big_inputs: Any, big_baseline, tmp_path: Path
) -> None:
    record_spawn_seconds([59.0])  # starting a worker "costs" more than the whole job
    ex = execute(big_inputs, workers=2, out_dir=tmp_path / "r")
    assert ex.result.plan.in_process and ex.result.workers == 1
    ex0, (body0, tables0) = big_baseline
    assert not ex0.result.plan.in_process and ex0.result.workers == 2
    body, tables = read_dir(tmp_path / "r")
    assert answer(body) == answer(body0)
    assert tables == tables0
    assert np.array_equal(ex.pnl, ex0.pnl)


def test_job_dearer_than_a_worker_start_uses_the_pool(cache: Path, small_inputs: Any) -> None:
    record_spawn_seconds([1e-4])  # cheaper than any job (break-even 0.2 ms)
    ex = execute(small_inputs, workers=2)
    assert ex.result.status == "completed"
    assert not ex.result.plan.in_process and ex.result.workers == 2
    forced = execute(small_inputs, workers=2, in_process=True)
    assert forced.result.plan.in_process
    assert answer(forced.result.model_dump(by_alias=True, mode="json")) == answer(
        ex.result.model_dump(by_alias=True, mode="json")
    )


def test_fault_injection_keeps_the_pool(
    cache: Path, small_inputs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    record_spawn_seconds([59.0])
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "raise:#1")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "m"))
    ex = execute(small_inputs, workers=2, max_retries=1)
    assert not ex.result.plan.in_process
    assert ex.result.status == "completed" and ex.result.tasks.retried == 1


def _flaky(ctx: dict[str, int], task: Task) -> int:
    ctx["calls"] += 1
    if task.row_start == 1 and ctx["calls"] < 3:
        raise ValueError("transient")
    return task.row_start


def test_in_process_engine_retries_fails_and_cancels() -> None:
    tasks = [Task("pnl", i, i + 1, 0, 1) for i in range(3)]
    got: dict[int, int] = {}
    ctx = {"calls": 0}
    stats = InProcessEngine().run(
        _flaky, ctx, tasks, on_result=lambda t, v: got.__setitem__(t.row_start, v), max_retries=1
    )
    assert got == {0: 0, 1: 1, 2: 2}
    assert stats.completed == 3 and stats.retried == 1 and stats.attempts == 4
    with pytest.raises(JobFailed, match="transient"):
        InProcessEngine().run(
            _flaky, {"calls": 0}, tasks, on_result=lambda t, v: None, max_retries=0
        )
    stop = threading.Event()
    stop.set()
    with pytest.raises(JobCancelled, match="3 of 3 tasks unfinished") as info:
        InProcessEngine().run(noop, None, tasks, on_result=lambda t, v: None, cancel=stop.is_set)
    assert isinstance(info.value.stats, RunStats) and info.value.stats.completed == 0


def test_arrow_columns_round_trip_without_pandas(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from riskgrid.grid import arrow\n"
        f"p = {str(tmp_path / 't.parquet')!r}\n"
        "x = np.linspace(-1, 1, 7)[::2]\n"  # a strided view: copied to contiguous
        "arrow.write(p, {'id': ['a', 'é', ''], 'x': x[:3], 'n': np.arange(3)})\n"
        "t = arrow.read(p)\n"
        "assert t.column_names == ['id', 'x', 'n'], t.column_names\n"
        "assert np.array_equal(arrow.to_numpy(t.column('x')), x[:3])\n"
        "assert arrow.to_numpy(t.column('n')).tolist() == [0, 1, 2]\n"
        "assert t.column('id').to_pylist() == ['a', 'é', '']\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False"
    assert arrow.to_numpy(arrow.column(np.array([], dtype=np.float64))).size == 0


def test_break_even_weighs_a_worker_start_against_the_pools_parallelism() -> None:
    # w workers need spawn + T/w, the driver T: in process while T < spawn·w/(w − 1)
    assert in_process_break_even(0.3, workers=2, cpus=2) == pytest.approx(0.6)
    assert in_process_break_even(0.3, workers=4, cpus=4) == pytest.approx(0.4)
    assert in_process_break_even(0.3, workers=8, cpus=2) == pytest.approx(0.6)  # capped by CPUs
    assert in_process_break_even(0.3, workers=None, cpus=4) == pytest.approx(0.4)
    # one worker: never more than twice a worker's start (tasks in process cannot be killed)
    assert in_process_break_even(0.3, workers=1, cpus=8) == pytest.approx(0.6)
    assert in_process_break_even(0.3, workers=1, cpus=1) == pytest.approx(0.6)


def test_memory_shards_return_what_the_files_return(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pnl = [Task("pnl", 0, 4, 0, 3), Task("pnl", 0, 4, 3, 5), Task("pnl", 4, 6, 0, 5)]
    pos = Task("pos", 0, 6)
    values = {
        t.key: {"pnl": rng.standard_normal((t.row_stop - t.row_start, t.col_stop - t.col_start))}
        for t in pnl
    }
    values[pos.key] = {"pv": rng.standard_normal(6), "delta": rng.standard_normal(6)}
    disk, memory = ShardStore(tmp_path / "s"), MemoryShardStore()
    for store in (disk, memory):
        for t in [*pnl, pos]:
            store.save(t, values[t.key])
    assert memory.keys() == disk.keys()
    for t in [*pnl, pos]:
        a, b = disk.load(t), memory.load(t)
        assert a is not None and b is not None and a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])
            assert not b[k].flags.writeable  # like the file's zero-copy views
    assert np.array_equal(
        disk.read_scenarios(pnl[1], [4, 3]), memory.read_scenarios(pnl[1], [4, 3])
    )
    assert np.array_equal(disk.load_matrix(pnl, 6, 5), memory.load_matrix(pnl, 6, 5))
    assert memory.load(Task("pnl", 6, 8, 0, 5)) is None
