"""The service on the grid: jobs on a real Ray cluster, cancellation, grid metrics.

- a `ray start --head` cluster on loopback with token authentication (module fixture);
- the API server as a real `riskgrid serve --dev` process with ``RISKGRID_ENGINE=ray`` and the
  cluster's address (a process of its own: a Ray driver keeps per-process state, and one that
  joined another, token-less Ray earlier in the test session cannot join this cluster);
- cancellation through the real `riskgrid jobs cancel` command, checked by process listing:
  no task process of the cancelled job is left, on either engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from grid_service_helpers import RayHead, descendants, ray_head
from prometheus_client.parser import text_string_to_metric_families
from service_helpers import (
    PLATFORM_ADMINS,
    LiveServer,
    dev_settings,
    free_port,
    job_file,
    tenant_doc,
)

from riskgrid.client import Client, ClientError
from riskgrid.grid.runner import run_job
from riskgrid.service.audit import AuditLog
from riskgrid.service.db import Database
from riskgrid.spec.job import load_job

TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayHead]:
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    with ray_head() as head:
        # the server in this process is a Ray driver: it needs the cluster's token
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = head.token
        try:
            yield head
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _serve_on_ray(cluster: RayHead, state: Path, **env_extra: str) -> tuple[LiveServer, Any]:
    """A real `riskgrid serve --dev` on the Ray engine; returns (server handle, process)."""
    port = free_port()
    env = {
        **os.environ,
        "RISKGRID_STATE_DIR": str(state),
        "RISKGRID_ENGINE": "ray",
        "RISKGRID_RAY_ADDRESS": cluster.address,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": cluster.token,
        **env_extra,
    }
    env.pop("RISKGRID_DB_URL", None)
    state.mkdir(parents=True, exist_ok=True)
    log = state / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskgrid.cli.main", "serve", "--dev", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    srv = LiveServer(f"http://127.0.0.1:{port}", dev_settings(state), None, None, None)  # type: ignore[arg-type]

    def ready() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            return srv.client().get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait_until(ready, "the server to start", 90)
        _tenant(srv, "desk-r")
    except BaseException:
        os.killpg(proc.pid, 9)
        raise
    return srv, proc


def _stop(proc: Any) -> None:
    os.killpg(proc.pid, 9)
    proc.wait(10)


@pytest.fixture(scope="module")
def ray_server(ray_cluster: RayHead, tmp_path_factory: pytest.TempPathFactory):
    """One API server on the Ray engine for the module (each connect to Ray costs seconds)."""
    srv, proc = _serve_on_ray(ray_cluster, tmp_path_factory.mktemp("ray-server") / "state")
    yield srv
    _stop(proc)


def _tenant(srv: LiveServer, name: str) -> None:
    admin = srv.client(srv.token("root", PLATFORM_ADMINS))
    r = admin.post("/v1/tenants", json=tenant_doc(name))
    assert r.status_code == 201, r.text


def _samples(srv: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = srv.client().get("/metrics").text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _measures(result: dict) -> dict:
    return {k: result[k] for k in ("portfolio", "groups", "greeks", "positions", "scenarios")}


def _cancel_with_cli(srv: LiveServer, job_id: str, user_token: str, tmp: Path) -> str:
    """`riskgrid jobs cancel`, which returns once the job has stopped (its own --wait)."""
    env = {
        **os.environ,
        "RISKGRID_TOKEN": user_token,
        "RISKGRID_CONFIG": str(tmp / "no-config.json"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "riskgrid.cli.main", "jobs", "cancel", job_id, "--server", srv.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,  # a guard against hanging; speed is not what this checks
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


def _wait_until(cond, what: str, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


@pytest.mark.ray
@pytest.mark.slow
def test_service_runs_a_job_on_ray_with_the_same_answer_auth_and_audit(
    ray_cluster: RayHead, ray_server: LiveServer, tmp_path: Path
):
    srv = ray_server
    path = job_file(tmp_path / "jobs", "desk-r", "multi-desk-var.yaml")
    # the same authorisation as on the local engine: a viewer of the desk may not submit
    outsider = Client(srv.url, srv.token("vic", "desk-r-viewers"), tenant="desk-r")
    with pytest.raises(ClientError, match="403"):
        outsider.submit(path)

    dev = Client(srv.url, srv.token("dana", "desk-r-devs"), tenant="desk-r")
    job = dev.submit(path)
    final = job.wait(timeout=180, poll=0.2)
    assert final["state"] == "succeeded", final
    result = job.result().result
    assert result["engine"] == "ray" and result["rayAddress"] == ray_cluster.address
    assert result["workers"] == 2  # the cluster's CPUs, seen through the shared connection
    # the same numbers as the local engine on the same inputs
    local = run_job(load_job(path), engine="local", workers=2)
    assert _measures(result) == _measures(local.model_dump(mode="json", by_alias=True))

    # audited like any job: submit (allow, by dana) and the viewer's denial
    rows = AuditLog(Database(srv.settings.database_url)).rows()
    submits = [(r.actor, r.decision) for r in rows if r.action == "job.submit"]
    assert ("dana", "allow") in submits and ("vic", "deny") in submits

    # grid metrics: every task of the job counted once, with a latency each, none in flight
    m = _samples(srv)
    labels = (("engine", "ray"), ("outcome", "succeeded"), ("tenant", "desk-r"))
    total = result["tasks"]["total"]
    assert m[("riskgrid_grid_tasks_total", labels)] == total
    assert m[("riskgrid_grid_task_seconds_count", (("engine", "ray"),))] == total
    assert m[("riskgrid_grid_tasks_running", (("engine", "ray"), ("tenant", "desk-r")))] == 0


@pytest.mark.ray
@pytest.mark.slow
def test_cancel_stops_the_jobs_ray_tasks_within_seconds(ray_cluster: RayHead, tmp_path: Path):
    # the grid's test hook: task #1 of the job sleeps 60 s, so it is caught running (a server
    # of its own, started with the hook in its environment)
    srv, proc = _serve_on_ray(
        ray_cluster,
        tmp_path / "state",
        RISKGRID_TEST_FAULTS="slow:#1",
        RISKGRID_TEST_FAULTS_SLOW="600",  # longer than the task timeout: it cannot finish
        RISKGRID_TEST_FAULTS_DIR=str(tmp_path / "markers"),
    )
    try:
        _cancel_on_ray(ray_cluster, srv, tmp_path)
    finally:
        _stop(proc)


def _cancel_on_ray(ray_cluster: RayHead, srv: LiveServer, tmp_path: Path) -> None:
    token = srv.token("dana", "desk-r-devs")
    dev = Client(srv.url, token, tenant="desk-r")
    job = dev.submit(
        job_file(tmp_path / "jobs", "desk-r", "multi-desk-var.yaml", targetTaskSeconds=0.05)
    )
    _wait_until(lambda: job.status()["tasks"]["done"] >= 3, "the job to get going")
    running = _wait_until(ray_cluster.task_processes, "a Ray worker running a task")
    assert running  # the listing sees the stalled task's worker

    said = _cancel_with_cli(srv, job.id, token, tmp_path)
    assert said == f"{job.id}: cancelled"
    assert job.status()["state"] == "cancelled"
    # nothing orphaned: no worker of this cluster is still executing one of its tasks
    _wait_until(lambda: not ray_cluster.task_processes(), "Ray task processes to stop", 30)
    assert job.status()["tasks"]["done"] < job.status()["tasks"]["total"]


@pytest.mark.slow
def test_cancel_stops_the_jobs_local_workers_within_seconds(
    make_server, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "slow:#1")
    # Longer than the task timeout: task #1 can never finish, so the job cannot end before the
    # cancel (a 60 s sleep could, on a slow day).
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_SLOW", "600")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "markers"))
    srv = make_server()
    _tenant(srv, "desk-l")
    token = srv.token("dana", "desk-l-devs")
    dev = Client(srv.url, token, tenant="desk-l")

    def workers() -> dict[int, str]:
        return {p: c for p, c in descendants(os.getpid()).items() if "riskgrid.grid.worker" in c}

    job = dev.submit(
        job_file(tmp_path / "jobs", "desk-l", "multi-desk-var.yaml", targetTaskSeconds=0.05)
    )
    _wait_until(lambda: job.status()["state"] == "running" and workers(), "the job to start")
    assert workers()  # the job's worker processes, one of them stuck in task #1

    said = _cancel_with_cli(srv, job.id, token, tmp_path)
    assert said == f"{job.id}: cancelled"
    _wait_until(lambda: not workers(), "the job's worker processes to exit", 30)


def test_queue_depth_per_tenant_and_task_metrics_after_a_job(make_server, tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    results = str(tmp_path / "results")  # the replicas share the database and result store
    api_only = make_server(db_url, runner_enabled=False, results_url=results)
    _tenant(api_only, "desk-q")
    dev = Client(api_only.url, api_only.token("dana", "desk-q-devs"), tenant="desk-q")
    jobs = [dev.submit(job_file(tmp_path / "jobs", "desk-q")) for _ in range(2)]
    depth = ("riskgrid_queue_depth", (("tenant", "desk-q"),))
    assert _samples(api_only)[depth] == 2  # nobody runs them: both wait

    runner = make_server(
        db_url, results_url=results
    )  # a replica with a runner (SQLite: the only one)
    for j in jobs:
        assert j.wait(timeout=120, poll=0.1)["state"] == "succeeded"
    m = _samples(runner)
    assert m.get(depth, 0) == 0
    total = sum(j.result().result["tasks"]["total"] for j in jobs)
    labels = (("engine", "local"), ("outcome", "succeeded"), ("tenant", "desk-q"))
    assert m[("riskgrid_grid_tasks_total", labels)] == total
    assert m[("riskgrid_grid_task_seconds_count", (("engine", "local"),))] == total
    assert m[("riskgrid_grid_task_seconds_sum", (("engine", "local"),))] > 0
    assert m[("riskgrid_grid_tasks_running", (("engine", "local"), ("tenant", "desk-q")))] == 0
    assert ("riskgrid_grid_tasks_total", (*labels[:1], ("outcome", "retried"), labels[2])) not in m


@pytest.mark.slow
def test_a_ray_address_nobody_answers_fails_the_job_within_the_deadline(tmp_path: Path):
    """`ray.init` would wait minutes: the service gives up after RISKGRID_RAY_CONNECT_SECONDS.

    A separate `riskgrid serve` process, so the abandoned connection attempt dies with it.
    """
    state, port = tmp_path / "state", free_port()
    env = {
        **os.environ,
        "RISKGRID_STATE_DIR": str(state),
        "RISKGRID_ENGINE": "ray",
        "RISKGRID_RAY_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "RISKGRID_RAY_CONNECT_SECONDS": "3",
    }
    env.pop("RISKGRID_DB_URL", None)
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskgrid.cli.main", "serve", "--dev", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        srv = LiveServer(url, dev_settings(state), None, None, None)  # type: ignore[arg-type]

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return srv.client().get("/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        _wait_until(ready, "the server to start", 60)
        _tenant(srv, "desk-n")
        dev = Client(url, srv.token("dana", "desk-n-devs"), tenant="desk-n")
        final = dev.submit(job_file(tmp_path / "jobs", "desk-n")).wait(timeout=180, poll=0.2)
        assert final["state"] == "failed"
        # The engine's TCP check answers at once for a closed port; a silent address would
        # hit the 3 s connect deadline instead ("… within 3 s"). Either way the job fails and
        # names the address.
        where = f"could not connect to the Ray cluster at {env['RISKGRID_RAY_ADDRESS']}"
        assert final["error"].startswith(where)
        assert "nobody answers" in final["error"] or "within 3 s" in final["error"]
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(10)


def _local_workers() -> dict[int, str]:
    return {p: c for p, c in descendants(os.getpid()).items() if "riskgrid.grid.worker" in c}


@pytest.mark.slow
def test_a_job_past_its_deadline_is_stopped_and_failed(make_server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "slow:#1")  # the job cannot finish in time
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "markers"))
    srv = make_server(job_deadline_seconds=4.0)
    _tenant(srv, "desk-d")
    dev = Client(srv.url, srv.token("dana", "desk-d-devs"), tenant="desk-d")
    job = dev.submit(job_file(tmp_path / "jobs", "desk-d", targetTaskSeconds=0.05))
    final = job.wait(timeout=60, poll=0.2)
    assert final["state"] == "failed"
    assert final["error"] == (
        "job ran past its deadline of 4 s (RISKGRID_JOB_DEADLINE_SECONDS) and was stopped"
    )
    _wait_until(lambda: not _local_workers(), "the job's worker processes to exit", 30)


@pytest.mark.slow
def test_a_runner_that_loses_its_lease_stops_and_never_finishes_the_job(
    make_server, tmp_path: Path, monkeypatch
):
    """A paused or partitioned runner: its lease lapses and another runner claims the job.
    The first runner's heartbeat sees the token replaced, stops the job's workers, and writes
    nothing more about the job (its progress and final state would be refused anyway)."""
    from sqlalchemy import update

    from riskgrid.service.claims import ClaimStore, claim_history
    from riskgrid.service.models import JobRow, utcnow

    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "slow:#1")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "markers"))
    srv = make_server(lease_seconds=1.5, runner_id="paused")
    _tenant(srv, "desk-p")
    dev = Client(srv.url, srv.token("dana", "desk-p-devs"), tenant="desk-p")
    job = dev.submit(
        job_file(tmp_path / "jobs", "desk-p", "multi-desk-var.yaml", targetTaskSeconds=0.05)
    )
    _wait_until(lambda: job.status()["tasks"]["done"] >= 2, "the job to get going")
    assert _local_workers()

    db = srv.app.state.services.db  # type: ignore[attr-defined]
    thief = ClaimStore(db, "thief", lease_seconds=600)
    with db.session() as s:  # the lease lapses (as if the runner had stalled) and is taken
        s.execute(update(JobRow).where(JobRow.id == job.id).values(lease_expires_at=utcnow()))
        taken = thief.claim(s, job.id, "desk-p", max_running=1)
    assert taken is not None

    _wait_until(lambda: not _local_workers(), "the paused runner to stop the job's workers", 15)
    done_after = job.status()["tasks"]["done"]
    time.sleep(2.0)  # several heartbeats and progress intervals later: no write got through
    view = job.status()
    assert view["state"] == "running" and view["tasks"]["done"] == done_after
    assert view["attempts"] == 2
    assert thief.finish(taken, "cancelled")
    trail = [(c.runner_id, c.outcome) for c in claim_history(db, job.id)]
    assert trail == [("paused", "expired"), ("thief", "cancelled")]


def test_the_runner_keeps_its_local_workers_warm_between_jobs(make_server, tmp_path: Path):
    """Issue #14 §3: the second job runs on the worker processes the first one started."""
    srv = make_server()
    _tenant(srv, "desk-w")
    dev = Client(srv.url, srv.token("dana", "desk-w-devs"), tenant="desk-w")
    first = dev.submit(job_file(tmp_path / "jobs", "desk-w"))
    assert first.wait(timeout=120, poll=0.1)["state"] == "succeeded"
    warm = _local_workers()
    assert warm  # kept after the job, not stopped
    second = dev.submit(job_file(tmp_path / "jobs", "desk-w"))
    assert second.wait(timeout=120, poll=0.1)["state"] == "succeeded"
    assert _local_workers() == warm  # the same processes ran it: none started, none stopped
    assert second.result().measures.equals(first.result().measures)
