"""Issue #12 §3 (rate limits that limit what matters) and §2 (bulkheads), against real
``riskgrid serve`` processes on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from service_helpers import PLATFORM_ADMINS, free_port, job_file, tenant_doc

from riskgrid.service.app import client_address
from riskgrid.service.audit import AuditLog
from riskgrid.service.db import Database
from riskgrid.service.devkeys import mint_token
from riskgrid.service.jobfiles import pack_job


@dataclass
class Proc:
    url: str
    state: Path
    proc: subprocess.Popen

    def token(self, user: str, *groups: str) -> str:
        return mint_token(self.state / "dev", user, list(groups))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: flushes aggregated denials
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def serve(state: Path, *args: str, **env: str) -> Proc:
    """``riskgrid serve --dev`` in its own process; waits (with a deadline) until it answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "riskgrid.cli.main", "serve", "--dev", "--port", str(port)]
    cmd += ["--state-dir", str(state), "--log-level", "warning", *args]
    full_env = {**os.environ, "RISKGRID_RUNNER": "0", **env}
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Proc(url, state, proc)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not become ready within 60 s")
        time.sleep(0.1)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop()


def _audit_rows(db_url: str) -> list:
    db = Database(db_url)
    try:
        return AuditLog(db).rows()
    finally:
        db.dispose()


def test_client_address_believes_forwarded_only_from_trusted_proxies():
    assert client_address("127.0.0.1", "6.6.6.6", ()) == "127.0.0.1"
    assert client_address("127.0.0.1", "6.6.6.6", ("10.0.0.0/8",)) == "127.0.0.1"
    assert client_address("10.1.2.3", "6.6.6.6, 10.9.9.9", ("10.0.0.0/8",)) == "6.6.6.6"
    assert client_address("10.1.2.3", "spoofed, 7.7.7.7", ("10.0.0.0/8",)) == "7.7.7.7"
    assert client_address("10.1.2.3", "not-an-ip", ("10.0.0.0/8",)) == "10.1.2.3"


def test_bad_tokens_are_limited_before_auditing_and_aggregated(tmp_path, procs):
    state = tmp_path / "s"
    srv = serve(
        state,
        RISKGRID_RATE_LIMIT_PER_SECOND="0.5",
        RISKGRID_RATE_LIMIT_BURST="5",
    )
    procs.append(srv)
    statuses, retry = [], []
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        for i in range(60):
            r = c.get(
                f"/v1/tenants/EVIL-{i}-text",
                headers={"Authorization": "Bearer nope", "X-Forwarded-For": f"10.0.{i}.1"},
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                retry.append(int(r.headers["Retry-After"]))
        # rotating X-Forwarded-For from loopback does not reset the budget
        assert statuses.count(401) <= 6 and statuses.count(429) >= 54, statuses
        assert retry and min(retry) >= 1
        time.sleep(max(retry[-1:]))  # Retry-After is truthful: after it, not limited
        assert c.get("/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    srv.stop()
    rows = [r for r in _audit_rows(f"sqlite:///{state / 'riskgrid.db'}") if r.actor == "anonymous"]
    # 61 denials → a handful of records: the first of each kind at once, then one summary each
    assert 2 <= len(rows) <= 5, [(r.action, r.detail) for r in rows]
    details = [json.loads(r.detail) for r in rows]
    assert sum(d["count"] for d in details) == 61
    assert any(d.get("aggregated") and d["count"] >= 50 for d in details)
    for r, d in zip(rows, details, strict=True):
        assert r.action == "auth"  # never the caller's path
        assert "EVIL" not in r.detail and d["route"] == "GET /v1/tenants/{name}"
        assert d["client"] == "127.0.0.1"  # not the forwarded address


def test_forwarded_for_is_believed_from_a_configured_proxy(tmp_path, procs):
    state = tmp_path / "s"
    srv = serve(state, RISKGRID_TRUSTED_PROXIES="127.0.0.1/32")
    procs.append(srv)
    r = httpx.get(f"{srv.url}/v1/me", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 401
    srv.stop()
    rows = _audit_rows(f"sqlite:///{state / 'riskgrid.db'}")
    assert json.loads(rows[-1].detail)["client"] == "203.0.113.9"


def test_rate_limit_holds_across_two_server_processes(tmp_path, procs, pg_server):
    from service_helpers import _pg_database

    url = _pg_database(pg_server)
    env = {"RISKGRID_RATE_LIMIT_PER_SECOND": "0.01", "RISKGRID_RATE_LIMIT_BURST": "10"}
    state = tmp_path / "s"  # shared: both replicas trust the same dev signing key
    a = serve(state, "--db-url", url, **env)
    procs.append(a)
    b = serve(state, "--db-url", url, "--no-migrate", **env)
    procs.append(b)
    token = a.token("dana", PLATFORM_ADMINS)
    codes = []
    for i in range(30):
        srv = (a, b)[i % 2]
        r = httpx.get(f"{srv.url}/v1/me", headers={"Authorization": f"Bearer {token}"})
        codes.append(r.status_code)
    # one budget of 10 for both replicas (per-process budgets would allow 20)
    assert codes.count(200) == 10, codes
    assert codes.count(429) == 20


@pytest.mark.slow
def test_health_answers_fast_while_one_client_floods(tmp_path, procs):
    """A flood of heavy requests (large policy dry-runs, many submits from one developer) and
    health/readiness still answer promptly; the flooder gets 429s; another tenant still gets
    its submit through."""
    state = tmp_path / "s"
    srv = serve(state, RISKGRID_RATE_LIMIT_BURST="100000", RISKGRID_RATE_LIMIT_PER_SECOND="1000")
    procs.append(srv)
    admin = {"Authorization": f"Bearer {srv.token('root', PLATFORM_ADMINS)}"}
    for name in ("desk-a", "desk-b"):
        r = httpx.post(f"{srv.url}/v1/tenants", json=tenant_doc(name), headers=admin, timeout=60)
        assert r.status_code == 201, r.text
    other = {"Authorization": f"Bearer {srv.token('olga', 'desk-b-devs')}"}
    doc, files = pack_job(job_file(tmp_path, "desk-a"))
    job_a = {"job": doc, "files": files}
    doc_b, files_b = pack_job(job_file(tmp_path, "desk-b"))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "x", "labels": {"a": "b" * 60}},
        "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(40)]},
    }
    big = {"objects": [pod] * 500}
    bodies = tmp_path / "flood.json"
    flood_reqs = {"submit": ["/v1/tenants/desk-a/jobs", job_a], "check": ["/v1/policy/check", big]}
    bodies.write_text(json.dumps(flood_reqs))
    stop_file, out = tmp_path / "stop", tmp_path / "codes.json"
    # the flood runs in its own process: the probes below are timed from one whose interpreter
    # is not busy with the flood's requests
    flood = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("flood_client.py")), srv.url,
         srv.token("mallory", "desk-a-devs"), str(bodies), str(out), str(stop_file)]
    )  # fmt: skip
    health: list[float] = []
    try:
        time.sleep(3.0)  # let the flood build up
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for i in range(80):
                started = time.perf_counter()
                r = c.get("/healthz" if i % 2 else "/readyz")
                health.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
                time.sleep(0.05)
            r = c.post(
                "/v1/tenants/desk-b/jobs", json={"job": doc_b, "files": files_b}, headers=other
            )
            assert r.status_code == 201, r.text
    finally:
        stop_file.touch()  # the flood ends even when an assertion above fails
        try:
            flood.wait(60)
        except subprocess.TimeoutExpired:
            flood.kill()
            raise
    flood_codes = json.loads(out.read_text())
    health.sort()
    assert 429 in flood_codes and 5 not in {c // 100 for c in flood_codes}, set(flood_codes)
    # The bound (100 ms) holds up to the 95th percentile of 80 probes; the slowest few
    # get 500 ms: on the shared 2-core machine (load average 5-8 from other work) the scheduler
    # alone now and then delays a runnable process by 100+ ms, flood or not, and the probes come
    # from a process that waits for a core like any other. Measured here at load 3-5: max
    # 34-58 ms (before the front-door health answer and the group commit: p90 up to 250 ms).
    # benchmarks/bench_service.py measures the p99.
    assert health[len(health) // 2] < 0.1, health
    assert health[int(len(health) * 0.95)] < 0.1, health
    assert health[-1] < 0.5, health
