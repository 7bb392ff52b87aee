"""The Ray engine on a local Ray: same answer as the local engine, retries, failures.

One Ray runtime for the whole module (starting Ray costs seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from grid_helpers import answer, read_dir

from riskgrid.grid.engine import JobFailed
from riskgrid.grid.faults import FaultInjector
from riskgrid.grid.planner import plan_blocks
from riskgrid.grid.ray_engine import RayEngine
from riskgrid.grid.runner import execute
from riskgrid.grid.synthetic import SyntheticContext, keyed_block
from riskgrid.grid.tasks import Task

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_runtime():
    from riskgrid.grid.ray_engine import _import_ray

    ray = _import_ray()  # Ray's `uv run` hook off, as the engine has it (CI runs `uv run`)

    started = not ray.is_initialized()  # another module may have left one running
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


def test_ray_gives_the_local_answer_bit_for_bit(
    ray_runtime, big_inputs: Any, big_baseline, tmp_path: Path
):
    ex0, (body0, tables0) = big_baseline
    ex = execute(big_inputs, engine="ray", block_rows=500, block_cols=128, out_dir=tmp_path / "r")
    body, tables = read_dir(tmp_path / "r")
    assert body["engine"] == "ray"
    assert body["workers"] == int(ray_runtime.cluster_resources()["CPU"])
    assert body["plan"]["blockCols"] == 128
    assert answer(body) == answer(body0)
    assert tables == tables0
    assert np.array_equal(ex.pnl, ex0.pnl)


def test_ray_retries_a_raising_task_and_a_dead_worker(ray_runtime, tmp_path: Path):
    ctx = SyntheticContext(seed=3, weights=np.linspace(1, 2, 40))
    tasks = list(plan_blocks(40, 20, block_rows=6, block_cols=20, pos_block_rows=40).pnl_tasks)
    rules = (("raise", tasks[1].key), ("exit", tasks[3].key))
    fn = FaultInjector(keyed_block, rules, str(tmp_path))
    out = np.full((40, 20), np.nan)

    def sink(t: Task, v: np.ndarray) -> None:
        out[t.rows, t.cols] = v

    stats = RayEngine().run(fn, ctx, tasks, on_result=sink)
    assert np.array_equal(out, keyed_block(ctx, Task("pnl", 0, 40, 0, 20)))
    assert stats.retried_keys == {tasks[1].key, tasks[3].key}
    assert stats.worker_deaths == 1
    assert any("InjectedFault" in e for e in stats.errors)


def test_ray_permanent_failure_fails_the_job(ray_runtime, tmp_path: Path):
    ctx = SyntheticContext(seed=3, weights=np.ones(12))
    tasks = list(plan_blocks(12, 4, block_rows=3, block_cols=4, pos_block_rows=12).pnl_tasks)
    fn = FaultInjector(keyed_block, (("raise-always", tasks[2].key),), str(tmp_path))
    with pytest.raises(JobFailed, match=rf"task {tasks[2].key} failed 2 time\(s\)"):
        RayEngine().run(fn, ctx, tasks, on_result=lambda t, v: None, max_retries=1)


def test_context_is_fetched_once_per_ray_worker(ray_runtime):
    from riskgrid.grid.synthetic import context_identity

    ctx = SyntheticContext(seed=1, weights=np.ones(3))
    seen: list[tuple[int, int]] = []
    RayEngine().run(
        context_identity,
        ctx,
        [Task("pnl", i, i + 1, 0, 1) for i in range(30)],
        on_result=lambda t, v: seen.append(v),
    )
    by_pid: dict[int, set[int]] = {}
    for pid, ident in seen:
        by_pid.setdefault(pid, set()).add(ident)
    assert len(seen) == 30
    assert all(len(ids) == 1 for ids in by_pid.values())


def test_cli_connects_to_a_running_ray_by_address(
    ray_runtime, small_job_path: Path, small_inputs: Any, tmp_path: Path
):
    address = ray_runtime.get_runtime_context().gcs_address
    proc = subprocess.run(
        [sys.executable, "-m", "riskgrid.cli.main", "run", str(small_job_path), "--json",
         "--ray-address", address, "-o", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = json.loads(proc.stdout)
    assert body["engine"] == "ray" and body["rayAddress"] == address
    local = execute(small_inputs, workers=1)
    assert answer(body) == answer(local.result.model_dump(by_alias=True, mode="json"))


def test_ray_task_timeout_and_straggler_speculation(ray_runtime, tmp_path: Path):
    from riskgrid.grid.engine import Limits

    ctx = SyntheticContext(seed=4, weights=np.linspace(1, 2, 24))
    tasks = list(plan_blocks(24, 10, block_rows=3, block_cols=10, pos_block_rows=24).pnl_tasks)
    expected = keyed_block(ctx, Task("pnl", 0, 24, 0, 10))

    def run(rules, limits):
        out = np.full((24, 10), np.nan)

        def sink(t: Task, v: np.ndarray) -> None:
            out[t.rows, t.cols] = v

        fn = FaultInjector(keyed_block, rules, str(tmp_path / rules[0][1]))
        (tmp_path / rules[0][1]).mkdir()
        return out, RayEngine().run(fn, ctx, tasks, on_result=sink, limits=limits)

    # A hung attempt: cancelled at its 2 s timeout (the worker is killed) and retried.
    out, stats = run((("slow-once", tasks[1].key),), Limits(task_timeout=lambda t: 2.0,
                                                            speculate_factor=0))  # fmt: skip
    assert np.array_equal(out, expected)
    assert stats.timed_out_keys == {tasks[1].key} and stats.retried_keys == {tasks[1].key}
    # A straggler at the end: a duplicate is launched and wins; the answer is the same.
    out, stats = run((("slow-once", tasks[-1].key),), Limits(speculate_min_seconds=1.0))
    assert np.array_equal(out, expected)
    assert stats.speculative == 1 and stats.speculative_wins == 1 and stats.timed_out == 0


def test_unreachable_ray_address_fails_fast_and_writes_nothing(small_job_path: Path, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "riskgrid.cli.main", "run", str(small_job_path),
         "--ray-address", f"127.0.0.1:{port}", "-o", str(out), "--startup-timeout", "10"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"Ray cluster at 127.0.0.1:{port}: nobody answers" in proc.stderr
    assert "no results were written" in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_uv_run_launcher_starts_workers_on_the_driver_interpreter(
    repo_root: Path, small_inputs: Any, tmp_path: Path
):
    """The issue's reproduction: `uv run --frozen --no-sync riskgrid run … --engine ray`."""
    uv = repo_root / ".tools" / "bin" / "uv"
    assert uv.exists(), "python3 tasks.py setup installs uv into .tools/"
    proc = subprocess.run(
        [str(uv), "run", "--frozen", "--no-sync", "riskgrid", "run", "examples/jobs/small.yaml",
         "--json", "--engine", "ray", "--workers", "1", "--startup-timeout", "90",
         "-o", str(tmp_path / "o")],
        cwd=repo_root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "packaging the working directory" not in proc.stderr  # no upload
    body = json.loads(proc.stdout)
    assert body["engine"] == "ray" and body["status"] == "completed"
    local = execute(small_inputs, workers=1)
    assert answer(body) == answer(local.result.model_dump(by_alias=True, mode="json"))


@pytest.mark.slow
def test_ctrl_c_on_ray_stops_every_ray_process(small_job_path: Path, tmp_path: Path):
    import os
    import signal

    from grid_procs import alive, cmdline, descendants, wait_until

    env = dict(os.environ)
    env["RISKGRID_TEST_FAULTS"] = "slow:#0"
    env["RISKGRID_TEST_FAULTS_DIR"] = str(tmp_path / "m")
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskgrid.cli.main", "run", str(small_job_path), "--engine",
         "ray", "--workers", "2", "-o", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list = []
    names: list[str] = []
    try:

        def task_running() -> bool:
            seen[:] = descendants(proc.pid)
            names[:] = [cmdline(p) for p in seen]
            return any("ray::_execute" in n for n in names)

        wait_until(task_running, 120, "a Ray task of the CLI's local Ray to start")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert stopped_in < 30
    assert any("raylet" in n for n in names)  # the listing did see Ray's own processes
    wait_until(lambda: not alive(seen), 30, "Ray's processes to exit")
    assert not out.exists()


def test_cancel_stops_running_ray_tasks_within_seconds(ray_runtime, tmp_path: Path):
    import os
    import threading

    from grid_procs import cmdline, descendants, wait_until

    from riskgrid.grid.engine import JobCancelled

    def running_tasks() -> list:
        return [p for p in descendants(os.getpid()) if "ray::_execute" in cmdline(p)]

    ctx = SyntheticContext(seed=0, weights=np.ones(4))
    tasks = [Task("pnl", i, i + 1, 0, 1) for i in range(4)]
    fn = FaultInjector(keyed_block, tuple(("slow", t.key) for t in tasks), str(tmp_path))
    stop = threading.Event()
    threading.Thread(
        target=lambda: (wait_until(lambda: bool(running_tasks()), 120, "a Ray task"), stop.set()),
        daemon=True,
    ).start()
    t0 = time.monotonic()
    with pytest.raises(JobCancelled, match="4 of 4 tasks unfinished"):
        RayEngine().run(fn, ctx, tasks, on_result=lambda t, v: None, cancel=stop.is_set)
    assert stop.is_set()
    wait_until(lambda: not running_tasks(), 30, "cancelled Ray tasks to stop")
    assert time.monotonic() - t0 < 120  # the 60 s tasks did not run to the end
