"""A real two-node Ray cluster on loopback: runs across nodes, node loss, driver loss.

The fixture starts ``ray start --head --num-cpus 1`` and a second node with ``ray start
--address … --num-cpus 1 --resources '{"riskgrid_worker": 1}'`` under a private temp dir,
dynamic ports and token authentication (see ``ray_cluster.py``). The tests run in file order:
both nodes first, then the worker node's raylet is killed, then the driver is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from grid_helpers import answer, read_dir
from ray_cluster import LoopbackCluster, new_cluster, wait_for

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    c = new_cluster("rg-ge-")
    try:
        c.start_head(cpus=1)
        c.add_node(cpus=1, resources='{"riskgrid_worker": 1}')
        yield c
    finally:
        c.stop()
    assert not c.processes(), "cluster processes survived teardown"


def _cli(c: LoopbackCluster, job: Path, out: Path, *extra: str, faults: str = "", **kw):
    env = c.env()
    if faults:
        env["RISKGRID_TEST_FAULTS"] = faults
        env["RISKGRID_TEST_FAULTS_DELAY"] = "1.0"
        env["RISKGRID_TEST_FAULTS_DIR"] = str(out.parent / "markers")
    cmd = [sys.executable, "-m", "riskgrid.cli.main", "run", str(job), "--json", "--ray-address",
           c.address, "-o", str(out), "--target-task-seconds", "0.05", "--startup-timeout", "120",
           *extra]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def _finish(proc: subprocess.Popen, timeout: float = 240) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


def test_job_runs_on_both_nodes_with_the_local_answer(
    cluster: LoopbackCluster, big_job_path: Path, big_baseline, tmp_path: Path
):
    _, (body0, tables0) = big_baseline
    # 1 s per task (delay fault): the head's one CPU stays busy, so Ray spills tasks to node 2
    # even when node 2's first worker is slow to start on a loaded machine.
    body = _finish(_cli(cluster, big_job_path, tmp_path / "o", faults="delay:*"))
    assert body["engine"] == "ray" and body["workers"] == 2  # 1 CPU per node
    assert len(body["tasks"]["nodes"]) == 2, body["tasks"]  # tasks ran on both nodes
    assert answer(body) == answer(body0)
    assert read_dir(tmp_path / "o")[1] == tables0


def test_losing_a_node_mid_job_changes_nothing_but_the_retry_count(
    cluster: LoopbackCluster, big_job_path: Path, big_baseline, tmp_path: Path
):
    _, (body0, tables0) = big_baseline
    worker_node = cluster.nodes[1]
    raylet = worker_node.raylet()
    assert raylet is not None
    proc = _cli(cluster, big_job_path, tmp_path / "o", "--max-retries", "3", faults="delay:*")
    try:
        # Mid-job: a task is running on the worker node; then its raylet dies (SIGKILL).
        wait_for(lambda: cluster.workers_running_tasks(worker_node), 180, "a task on node 2")
        os.kill(raylet.pid, signal.SIGKILL)
        body = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert body["status"] == "completed"
    assert body["tasks"]["retried"] >= 1 and body["tasks"]["workerDeaths"] >= 1, body["tasks"]
    assert answer(body) == answer(body0)  # bit for bit, as the undisturbed local run
    assert read_dir(tmp_path / "o")[1] == tables0


def test_killed_driver_resumes_from_its_checkpoint(
    cluster: LoopbackCluster, big_job_path: Path, big_baseline, tmp_path: Path
):
    _, (body0, _) = big_baseline
    ck = tmp_path / "ck"
    first = _cli(cluster, big_job_path, tmp_path / "o1", "--checkpoint", str(ck), faults="delay:*")
    try:
        wait_for(
            lambda: len(list((ck / "tasks").glob("*.parquet"))) >= 2, 180, "2 checkpointed tasks"
        )
        first.kill()  # SIGKILL: no clean-up of any kind in the driver
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    saved = len(list((ck / "tasks").glob("*.parquet")))
    assert not (tmp_path / "o1").exists()
    # Ray stops a dead driver's tasks: nothing of the first run keeps computing.
    wait_for(lambda: not cluster.workers_running_tasks(), 60, "the dead driver's tasks to stop")
    body = _finish(_cli(cluster, big_job_path, tmp_path / "o2", "--checkpoint", str(ck)))
    assert body["tasks"]["fromCheckpoint"] >= saved >= 2
    assert body["tasks"]["completed"] == body["tasks"]["total"]
    assert answer(body) == answer(body0)


@pytest.fixture(scope="module")
def cpuless_cluster():
    c = new_cluster("rg-ge0-")
    try:
        c.start_head(cpus=0)
        yield c
    finally:
        c.stop()


def test_cluster_without_a_cpu_fails_within_the_startup_deadline(
    cpuless_cluster: LoopbackCluster, small_job_path: Path, tmp_path: Path
):
    proc = _cli(cpuless_cluster, small_job_path, tmp_path / "o", "--startup-timeout", "8")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "no Ray worker started a task within 8 s" in err
    assert "0 CPU(s); every riskgrid task needs 1 CPU" in err
    assert not (tmp_path / "o").exists()
