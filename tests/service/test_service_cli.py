"""The client CLI against a real `riskgrid serve --dev` subprocess; then the server's log, audit
trail and database are searched for every token used: none may appear."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import httpx
import typer
from service_helpers import PLATFORM_ADMINS, REPO, free_port, job_file
from typer.testing import CliRunner

from riskgrid.cli.client import register_tenant_commands
from riskgrid.cli.main import main
from riskgrid.service.devkeys import mint_token


def test_cli_workflow_and_no_token_reaches_logs_or_audit(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    log = tmp_path / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RISKGRID_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
    env.pop("RISKGRID_ENV", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "riskgrid.cli.main",
            "serve",
            "--dev",
            "--port",
            str(port),
            "--log-level",
            "debug",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        admin = mint_token(state / "dev", "root", [PLATFORM_ADMINS])
        dev = mint_token(state / "dev", "dana", ["eq-vol-devs-x", "risk-eq-vol-quants"])
        forged = admin[:-8] + ("AAAAAAAA" if not admin.endswith("AAAAAAAA") else "BBBBBBBB")
        garbage = "not-a-jwt-SECRET-MARKER-7f3a"

        # login stores the token 0600
        config = tmp_path / "cfg" / "credentials.json"
        monkeypatch.setenv("RISKGRID_CONFIG", str(config))
        monkeypatch.setenv("RISKGRID_TOKEN", admin)
        assert main(["login", "--server", url]) == 0
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert json.loads(config.read_text())["token"] == admin
        monkeypatch.delenv("RISKGRID_TOKEN")

        # tenant create|get: subcommands for the tenancy area's group
        tenant_app = typer.Typer()
        register_tenant_commands(tenant_app)
        runner = CliRunner()
        tenant_yaml = REPO / "examples" / "tenants" / "eq-vol.yaml"
        r = runner.invoke(tenant_app, ["create", str(tenant_yaml)])
        assert r.exit_code == 0, r.output
        assert "created tenant eq-vol" in r.output and "verification OK" in r.output
        r = runner.invoke(tenant_app, ["get", "eq-vol"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["verification"]["ok"] is True

        # a developer submits and waits, lists, downloads
        token_file = tmp_path / "dev.token"
        token_file.write_text(dev)
        assert main(["login", "--server", url, "--token-file", str(token_file)]) == 0
        capsys.readouterr()
        job = job_file(tmp_path / "jobs", "eq-vol")
        assert main(["submit", str(job), "--tenant", "eq-vol", "--wait"]) == 0
        out = capsys.readouterr().out
        job_id = out.split()[1]
        assert f"{job_id}: succeeded" in out
        assert main(["jobs", "--tenant", "eq-vol"]) == 0
        assert job_id in capsys.readouterr().out
        assert main(["results", job_id, "-o", str(tmp_path / "res")]) == 0
        assert (tmp_path / "res" / "result.json").exists()
        assert (tmp_path / "res" / "pnl_portfolio.parquet").read_bytes()[:4] == b"PAR1"
        assert "pnl_portfolio.parquet" in capsys.readouterr().out
        assert main(["results", job_id]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "completed"
        # the developer is refused tenant creation, and the CLI says why with exit 2
        r = runner.invoke(tenant_app, ["create", str(tenant_yaml)])
        assert r.exit_code != 0 and "403" in str(r.exception)

        # denials with bad tokens
        for bad in (forged, garbage):
            assert (
                httpx.get(f"{url}/v1/me", headers={"Authorization": f"Bearer {bad}"}).status_code
                == 401
            )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)

    assert main(["audit", "verify", "--state-dir", str(state)]) == 0
    capsys.readouterr()
    assert main(["audit", "show", "--state-dir", str(state), "--limit", "1000"]) == 0
    audit = capsys.readouterr().out
    assert '"decision": "deny"' in audit and '"action": "job.submit"' in audit
    server_log = log.read_text()
    assert "RISKGRID DEV MODE" in server_log and "/v1/me" in server_log
    db_bytes = (state / "riskgrid.db").read_bytes() + b"".join(
        p.read_bytes() for p in state.glob("riskgrid.db-*")
    )
    for secret in (admin, dev, forged, garbage):
        for part in {secret, secret.split(".")[-1]}:  # whole token, and its signature alone
            assert part not in server_log
            assert part not in audit
            assert part.encode() not in db_bytes
