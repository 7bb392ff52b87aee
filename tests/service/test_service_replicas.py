"""Two `riskgrid serve` replicas on one PostgreSQL; one is SIGKILLed mid-job.

Every job must end exactly once: none lost, none run twice to completion. Evidence: the
``job_claims`` table (one row per claim, with how it ended), the job rows, and the grid's task
counts in each result (a taken-over job resumes from the dead runner's checkpoint and
recomputes nothing that was saved).

The replicas share one state directory, standing for the shared volume (dev signing key,
result store, work/checkpoint directory) that replicas mount; each has its own runner id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from service_helpers import PLATFORM_ADMINS, free_port, job_file, tenant_doc

from riskgrid.service.claims import claim_history
from riskgrid.service.db import Database
from riskgrid.service.devkeys import mint_token
from riskgrid.service.jobfiles import pack_job
from riskgrid.service.models import JobRow

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_SECONDS = 3.0
TERMINAL = ("succeeded", "failed", "cancelled")


def _serve(
    state: Path, db_url: str, runner_id: str, log: Path, faults: str | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "RISKGRID_STATE_DIR": str(state),
        "RISKGRID_DB_URL": db_url,
        "RISKGRID_RUNNER_ID": runner_id,
        "RISKGRID_LEASE_SECONDS": str(LEASE_SECONDS),
        "RISKGRID_MAX_WORKERS": "1",
        "RISKGRID_MAX_RUNNING_JOBS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    for var in ("RISKGRID_ENV", "RISKGRID_TEST_FAULTS", "RISKGRID_TEST_FAULTS_DIR"):
        env.pop(var, None)
    if faults:
        # every job this replica runs stalls on the selected task (sleeps 60 s): the replica
        # is reliably caught holding jobs part-way when it is killed
        env["RISKGRID_TEST_FAULTS"] = faults
        env["RISKGRID_TEST_FAULTS_DIR"] = str(state.parent / f"faults-{runner_id}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskgrid.cli.main", "serve", "--dev", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{runner_id} exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{runner_id} not ready")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _measures(result: dict) -> dict:
    return {k: result[k] for k in ("portfolio", "groups", "greeks", "positions", "scenarios")}


def test_two_runners_one_killed_every_job_ends_exactly_once(pg_server, tmp_path):
    from service_helpers import _pg_database

    db_url = _pg_database(pg_server)
    state = tmp_path / "state"
    log = tmp_path / "replicas.log"
    procs: list[subprocess.Popen] = []
    try:
        a, url_a = _serve(state, db_url, "replica-a", log, faults="slow:#3")
        procs.append(a)
        token = mint_token(state / "dev", "root", [PLATFORM_ADMINS])
        http = httpx.Client(
            base_url=url_a, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        tenant = tenant_doc("desk-a")
        tenant["metadata"].setdefault("annotations", {})["riskgrid.dev/max-running-jobs"] = "8"
        r = http.post("/v1/tenants", json=tenant)
        assert r.status_code == 201, r.text
        doc, files = pack_job(
            job_file(tmp_path, "desk-a", "multi-desk-var.yaml", targetTaskSeconds=0.05)
        )
        body = {"job": doc, "files": files}

        def submit() -> str:
            resp = http.post("/v1/tenants/desk-a/jobs", json=body)
            assert resp.status_code == 201, resp.text
            return resp.json()["id"]

        # replica A alone takes the first two jobs; both stall on task #3
        on_a = [submit(), submit()]
        deadline = time.monotonic() + 120
        while True:
            views = [http.get(f"/v1/jobs/{j}").json() for j in on_a]
            if all(v["state"] == "running" and v["tasks"]["done"] >= 1 for v in views):
                break
            assert time.monotonic() < deadline, views
            time.sleep(0.1)
        time.sleep(0.5)  # whatever was running beside the stalled task is saved too
        done_before = {j: http.get(f"/v1/jobs/{j}").json()["tasks"]["done"] for j in on_a}

        # replica B joins; more jobs arrive; B runs them (A is full)
        b, url_b = _serve(state, db_url, "replica-b", log)
        procs.append(b)
        later = [submit(), submit(), submit()]
        time.sleep(1.0)

        _kill(a)  # mid-job: A holds two claims it will never finish or renew
        killed_at = time.monotonic()
        http_b = httpx.Client(
            base_url=url_b, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        final = {}
        for job_id in [*on_a, *later]:
            deadline = time.monotonic() + 180
            while (v := http_b.get(f"/v1/jobs/{job_id}").json())["state"] not in TERMINAL:
                assert time.monotonic() < deadline, v
                time.sleep(0.2)
            final[job_id] = v
        took_over_after = time.monotonic() - killed_at
        assert {j: v["state"] for j, v in final.items()} == dict.fromkeys(final, "succeeded")

        # exactly once: one successful claim per job, no claim left open, and A's claims
        # ended because B took them over after their leases ran out
        db = Database(db_url)
        history = claim_history(db)
        with db.session() as s:
            rows = {r.id: r for r in s.query(JobRow).all()}
        db.dispose()
        assert set(rows) == set(final)  # none lost, none invented
        assert Counter(c.job_id for c in history if c.outcome == "succeeded") == Counter(
            dict.fromkeys(final, 1)
        )
        assert not [c for c in history if c.outcome in ("running", "fenced")]
        for job_id in on_a:
            trail = [(c.runner_id, c.outcome) for c in history if c.job_id == job_id]
            assert trail == [("replica-a", "expired"), ("replica-b", "succeeded")], trail
            assert rows[job_id].attempts == 2
        for job_id in later:
            trail = [(c.runner_id, c.outcome) for c in history if c.job_id == job_id]
            assert trail == [("replica-b", "succeeded")], trail
        assert took_over_after >= LEASE_SECONDS - 0.5  # not before A's lease had run out

        # the taken-over jobs resumed from A's checkpoints, recomputing nothing saved there,
        # and give the same numbers as the jobs B ran from the start
        reference = http_b.get(f"/v1/jobs/{later[0]}/result").json()
        assert reference["tasks"]["fromCheckpoint"] == 0
        for job_id in on_a:
            result = http_b.get(f"/v1/jobs/{job_id}/result").json()
            tasks = result["tasks"]
            assert tasks["fromCheckpoint"] >= done_before[job_id] >= 1
            assert tasks["attempts"] == tasks["total"] - tasks["fromCheckpoint"]
            assert _measures(result) == _measures(reference)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- replicas' log ---\n{log.read_text()[-5000:]}") from exc
    finally:
        for p in procs:
            _kill(p)
