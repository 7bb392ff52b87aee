"""Kill a real `riskgrid serve` mid-job (SIGKILL), restart it, and check nothing is lost or redone.

Runs on SQLite and on PostgreSQL. Evidence that checkpointed tasks were not recomputed: the
grid's result counts tasks loaded from the checkpoint and task executions started in the
resumed run; executions must equal total − checkpointed (no retries happen here).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from service_helpers import PLATFORM_ADMINS, free_port, job_file, tenant_doc

from riskgrid.service.devkeys import mint_token
from riskgrid.service.jobfiles import pack_job


def _serve(
    state: Path, db_url: str, port: int, log: Path, faults: str | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        "RISKGRID_STATE_DIR": str(state),
        "RISKGRID_DB_URL": db_url,
        "RISKGRID_MAX_WORKERS": "1",  # slow enough to be caught mid-run
        "PYTHONUNBUFFERED": "1",  # the log survives the SIGKILL
    }
    env.pop("RISKGRID_ENV", None)
    env.pop("RISKGRID_TEST_FAULTS", None)
    if faults:
        # the grid's test hook: the selected task sleeps 60 s, so the job is reliably caught
        # part-way; it can delay a task, never change a number
        env["RISKGRID_TEST_FAULTS"] = faults
        env["RISKGRID_TEST_FAULTS_DIR"] = str(state.parent / "fault-markers")
    return subprocess.Popen(
        [sys.executable, "-m", "riskgrid.cli.main", "serve", "--dev", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )


def _wait_ready(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server not ready")


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def _measures(result: dict) -> dict:
    return {k: result[k] for k in ("portfolio", "groups", "greeks", "positions", "scenarios")}


@pytest.mark.slow
def test_job_survives_sigkill_and_resumes_from_checkpoint(db_url, tmp_path):
    state = tmp_path / "state"
    log = tmp_path / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(state, db_url, port, log, faults="slow:#3")
    try:
        _wait_ready(url, proc)
        admin = {"Authorization": f"Bearer {mint_token(state / 'dev', 'root', [PLATFORM_ADMINS])}"}
        http = httpx.Client(base_url=url, headers=admin, timeout=30)
        r = http.post("/v1/tenants", json=tenant_doc("desk-a"))
        assert r.status_code == 201, (r.text, log.read_text()[-3000:])
        doc, files = pack_job(
            job_file(tmp_path, "desk-a", "multi-desk-var.yaml", targetTaskSeconds=0.05)
        )
        body = {"job": doc, "files": files}
        job_id = http.post("/v1/tenants/desk-a/jobs", json=body).json()["id"]
        queued_id = http.post("/v1/tenants/desk-a/jobs", json=body).json()["id"]

        # wait until the job is part-way through, then kill the whole server
        deadline = time.monotonic() + 120
        while True:
            data = http.get(f"/v1/jobs/{job_id}").json()
            t = data["tasks"]
            if t["total"] and t["done"] >= 1:
                time.sleep(0.5)  # let whatever runs beside the stalled task finish too
                t = http.get(f"/v1/jobs/{job_id}").json()["tasks"]
                break
            assert data["state"] in ("queued", "running"), data
            assert time.monotonic() < deadline, "job never got part-way"
            time.sleep(0.05)
        done_before_kill = t["done"]
        assert done_before_kill < t["total"]
        _kill(proc)
        checkpointed = list((state / "work" / job_id / "checkpoint" / "tasks").glob("*.parquet"))
        assert len(checkpointed) >= done_before_kill

        proc = _serve(state, db_url, port, log)
        _wait_ready(url, proc)
        for jid in (job_id, queued_id):
            deadline = time.monotonic() + 180
            while (data := http.get(f"/v1/jobs/{jid}").json())["state"] not in (
                "succeeded",
                "failed",
                "cancelled",
            ):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert data["state"] == "succeeded", data
        resumed = http.get(f"/v1/jobs/{job_id}").json()
        assert resumed["attempts"] == 2  # started, killed, started again
        result = http.get(f"/v1/jobs/{job_id}/result").json()
        tasks = result["tasks"]
        assert tasks["fromCheckpoint"] >= len(checkpointed) > 0
        assert tasks["attempts"] == tasks["total"] - tasks["fromCheckpoint"]  # none redone
        assert resumed["tasks"]["resumed"] == tasks["fromCheckpoint"]
        # the job queued behind it ran after the restart, uninterrupted, on the same inputs:
        # the resumed job's numbers are identical to it
        reference = http.get(f"/v1/jobs/{queued_id}/result").json()
        assert reference["tasks"]["fromCheckpoint"] == 0
        assert _measures(result) == _measures(reference)
        pnl = http.get(f"/v1/jobs/{job_id}/files/pnl_portfolio.parquet")
        assert pnl.status_code == 200 and pnl.content[:4] == b"PAR1"
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{log.read_text()[-4000:]}") from exc
    finally:
        if proc.poll() is None:
            _kill(proc)
