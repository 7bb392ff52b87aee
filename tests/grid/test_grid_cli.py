"""``riskgrid run``: summary, --json, exit codes, and Ctrl-C without orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskgrid.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_summary_table_and_results_directory(small_job_path: Path, tmp_path: Path, capsys):
    rc = main(["run", str(small_job_path), "-o", str(tmp_path / "out"), "--workers", "2", "--pool"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "eq-vol" in out.out and "fx-options" in out.out and "total" in out.out
    assert "VaR 99.0%" in out.out and "ES 97.5%" in out.out
    assert "Top VaR contributors" in out.out
    assert "progress:" in out.err  # not a TTY: plain log lines, on stderr
    body = json.loads((tmp_path / "out" / "result.json").read_text())
    assert body["status"] == "completed" and body["workers"] == 2


def test_json_prints_only_result_json(small_job_path: Path, tmp_path: Path, capsys):
    rc = main(["run", str(small_job_path), "-o", str(tmp_path / "out"), "--json"])
    out = capsys.readouterr()
    assert rc == 0
    printed = json.loads(out.out)  # the whole of stdout is one JSON document
    on_disk = json.loads((tmp_path / "out" / "result.json").read_text())
    assert printed == on_disk
    assert printed["portfolio"]["var"]["0.99"] > 0


def test_bad_input_exits_2_with_file_field_reason(tmp_path: Path, capsys):
    job = tmp_path / "job.yaml"
    job.write_text(
        "apiVersion: riskgrid.dev/v1alpha1\nkind: RiskJob\nmetadata: {name: x}\n"
        "spec: {valuationDate: 2026-11-20, bogus: 1}\n"
    )
    rc = main(["run", str(job), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error:")
    assert f"{job}: spec.bogus: Extra inputs are not permitted" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args", [["--target-task-seconds", "9"], ["--engine", "local", "--ray-address", "h:1"]]
)
def test_bad_options_exit_2(small_job_path: Path, tmp_path: Path, capsys, args):
    rc = main(["run", str(small_job_path), "-o", str(tmp_path / "o"), *args])
    assert rc == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_failed_job_exits_1_and_writes_nothing(
    small_job_path: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RISKGRID_TEST_FAULTS", "raise-always:#1")
    monkeypatch.setenv("RISKGRID_TEST_FAULTS_DIR", str(tmp_path / "m"))
    rc = main(["run", str(small_job_path), "-o", str(tmp_path / "out"), "--max-retries", "0"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "error: job failed: task " in err and "no results were written" in err
    assert not (tmp_path / "out").exists()


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_stops_workers_and_leaves_no_results(small_job_path: Path, tmp_path: Path):
    env = dict(os.environ)
    env["RISKGRID_TEST_FAULTS"] = "slow:#0"  # the first task sleeps: the run is still going
    env["RISKGRID_TEST_FAULTS_DIR"] = str(tmp_path / "m")
    out = tmp_path / "res" / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskgrid.cli.main", "run", str(small_job_path), "-o", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = [
                k
                for k in _children(proc.pid)
                if "riskgrid.grid.worker" in Path(f"/proc/{k}/cmdline").read_text()
            ]
        assert len(workers) == 2, "workers did not start"
        time.sleep(1.0)  # let them receive tasks
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    time.sleep(0.5)
    assert not [w for w in workers if _running(w)]
    assert not out.exists()
    leftovers = list((tmp_path / "res").iterdir()) if (tmp_path / "res").exists() else []
    assert leftovers == []
