"""Issue #12 §2 and §3, black-box: bulkheads, response size, content-addressed uploads, and
rate limits that limit what matters, against real ``riskgrid serve`` processes.

Imports nothing of riskgrid, so ``scripts/failed_before.py`` runs it against the source before
the #12 hardening too.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from api12_server import (
    PLATFORM_ADMINS,
    Server,
    pg_database,
    serve,
    serve_with_tenants,
    submission,
)

FLOOD_CLIENT = Path(__file__).parents[1] / "service" / "flood_client.py"


def pod(i: int, containers: int = 1) -> dict[str, Any]:
    """A pod that breaks several guardrails (no limits, no securityContext, untagged image)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p{i}", "namespace": "x", "labels": {"a": "b" * 60}},
        "spec": {"containers": [{"name": f"c{j}", "image": "nginx"} for j in range(containers)]},
    }


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = serve_with_tenants(
        tmp_path_factory.mktemp("api12-load") / "state",
        ("desk-a", "desk-b"),
        RISKGRID_RATE_LIMIT_BURST="100000",
        RISKGRID_RATE_LIMIT_PER_SECOND="1000",
        RISKGRID_PRINCIPAL_CONCURRENCY="1",
    )
    try:
        yield server
    finally:
        server.stop()


class HeldRequest:
    """A heavy request whose body is never finished: it holds its place on the server."""

    def __init__(self, srv: Server, token: str, path: str) -> None:
        url = urlsplit(srv.url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=30)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        self.sock.sendall(head.encode() + b'{"objects": [')

    def close(self) -> None:
        self.sock.close()


def test_blackbox_principal_concurrency_limit_is_429_with_retry_after(srv: Server) -> None:
    """One principal with a request in flight (limit 1) is refused a second at once; another
    principal is not."""
    token = srv.token("mallory", "desk-a-devs")
    held = HeldRequest(srv, token, "/v1/policy/check")
    try:
        with srv.client(token) as c:
            deadline = time.monotonic() + 10  # until the held request has taken its slot
            while True:
                r = c.post("/v1/policy/check", json={"objects": [pod(0)]})
                if r.status_code != 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        assert r.status_code == 429, r.text
        assert "too many concurrent requests from you" in r.json()["detail"]
        assert int(r.headers["Retry-After"]) >= 1
        with srv.dev("desk-b", "olga") as other:
            assert other.post("/v1/policy/check", json={"objects": [pod(0)]}).status_code == 200
    finally:
        held.close()


def test_blackbox_a_full_queue_is_429_with_a_truthful_retry_after(tmp_path: Path) -> None:
    """Heavy requests beyond the running one and the queue (1 + 1) are refused with a
    Retry-After of at least a second; none fails, the others complete."""
    server = serve(
        tmp_path / "state",
        RISKGRID_RATE_LIMIT_BURST="100000",
        RISKGRID_TENANT_CONCURRENCY="1",
        RISKGRID_TENANT_QUEUE="1",
        RISKGRID_DRY_RUN_PROCESSES="1",
    )
    big = json.dumps({"objects": [pod(i, 20) for i in range(300)]}).encode()
    answers: list[httpx.Response] = []
    try:

        def one(i: int) -> None:
            with server.client(server.token(f"user{i}", "desk-a-devs"), timeout=120) as c:
                answers.append(
                    c.post(
                        "/v1/policy/check",
                        content=big,
                        headers={"content-type": "application/json"},
                    )
                )

        for _burst in range(2):  # a burst of 8 at once (once more if the machine outran it)
            threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(150)
            if any(r.status_code == 429 for r in answers):
                break
    finally:
        server.stop()
    codes = [r.status_code for r in answers]
    refused = [r for r in answers if r.status_code == 429]
    assert refused and set(codes) <= {200, 429}, codes
    for r in refused:
        assert "queued for" in r.json()["detail"], r.text
        assert int(r.headers["Retry-After"]) >= 1


def test_blackbox_policy_report_size_is_bounded(srv: Server) -> None:
    with srv.dev() as dev:
        r = dev.post("/v1/policy/check", json={"objects": [pod(i, 10) for i in range(500)]})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report.get("truncated") is True, sorted(report)
    assert len(report["violations"]) <= 500 and report["total_violations"] > 500
    assert len(r.content) < 1_000_000, len(r.content)


def test_blackbox_uploads_are_content_addressed_per_tenant(srv: Server) -> None:
    body = submission(name="addressed")
    digests = {
        rel: hashlib.sha256(__import__("base64").b64decode(b64)).hexdigest()
        for rel, b64 in body["files"].items()
    }
    with srv.dev() as dev:
        assert dev.post("/v1/tenants/desk-a/jobs", json=body).status_code == 201
        r = dev.post("/v1/tenants/desk-a/blobs/missing", json={"sha256": sorted(digests.values())})
        assert r.status_code == 200 and r.json()["missing"] == [], r.text
        r = dev.post("/v1/tenants/desk-a/jobs", json={"job": body["job"], "refs": digests})
        assert r.status_code == 201, r.text
    with srv.dev("desk-b", "bo") as other:  # another tenant cannot use (or learn of) them
        r = other.post(
            "/v1/tenants/desk-b/blobs/missing", json={"sha256": sorted(digests.values())}
        )
        assert sorted(r.json()["missing"]) == sorted(set(digests.values()))
        job_b = {**body["job"], "metadata": {**body["job"]["metadata"], "labels": {}}}
        r = other.post("/v1/tenants/desk-b/jobs", json={"job": job_b, "refs": digests})
        assert r.status_code == 422 and "no such file uploaded by this tenant" in r.text


@pytest.mark.slow
def test_blackbox_health_answers_while_one_client_floods(tmp_path: Path) -> None:
    """CPU-heavy work is off the event loop: under a flood of large policy dry-runs and
    submits from one developer, /healthz and /readyz answer (each probe within a second),
    the flooder gets 429s and another tenant's submit goes through."""
    srv = serve_with_tenants(
        tmp_path / "state",
        ("desk-a", "desk-b"),
        RISKGRID_RATE_LIMIT_BURST="100000",
        RISKGRID_RATE_LIMIT_PER_SECOND="1000",
    )
    try:
        bodies = tmp_path / "flood.json"
        big = {"objects": [pod(i, 40) for i in range(500)]}
        bodies.write_text(
            json.dumps(
                {
                    "submit": ["/v1/tenants/desk-a/jobs", submission()],
                    "check": ["/v1/policy/check", big],
                }
            )
        )
        stop_file, out = tmp_path / "stop", tmp_path / "codes.json"
        flood = subprocess.Popen(
            [sys.executable, str(FLOOD_CLIENT), srv.url, srv.token("mallory", "desk-a-devs"),
             str(bodies), str(out), str(stop_file)]
        )  # fmt: skip
        health: list[float] = []
        try:
            time.sleep(3.0)  # let the flood build up
            with httpx.Client(base_url=srv.url, timeout=5) as c:
                for i in range(30):
                    started = time.perf_counter()
                    r = c.get("/healthz" if i % 2 else "/readyz")
                    health.append(time.perf_counter() - started)
                    assert r.status_code == 200, r.text
                    time.sleep(0.05)
            with srv.dev("desk-b", "olga") as other:
                r = other.post("/v1/tenants/desk-b/jobs", json=submission("desk-b"))
                assert r.status_code == 201, r.text
        finally:
            stop_file.touch()  # the flood ends even when an assertion above fails
            try:
                flood.wait(90)
            except subprocess.TimeoutExpired:
                flood.kill()
                raise
        codes = json.loads(out.read_text())
        assert 429 in codes and 5 not in {c // 100 for c in codes}, sorted(set(codes))
        # the figure against the 100 ms goal is benchmarks/bench_service.py's; here no
        # probe may take a second (before the bulkheads probes took 17 s)
        assert max(health) < 1.0, sorted(health)
    finally:
        srv.stop()


# --- §3: rate limits ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def denied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """61 bad-token requests from one loopback client that rotates X-Forwarded-For and puts
    its own text in the path; the audit records read after a graceful stop."""
    srv = serve(
        tmp_path_factory.mktemp("api12-denied") / "state",
        RISKGRID_RATE_LIMIT_PER_SECOND="0.5",
        RISKGRID_RATE_LIMIT_BURST="5",
    )
    statuses: list[int] = []
    retry: list[str] = []
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            for i in range(60):
                r = c.get(
                    f"/v1/tenants/EVIL-{i}-text",
                    headers={"Authorization": "Bearer nope", "X-Forwarded-For": f"10.0.{i}.1"},
                )
                statuses.append(r.status_code)
                if r.status_code == 429:
                    retry.append(r.headers.get("Retry-After", ""))
            wait = max((int(x) for x in retry if x.isdigit()), default=0)
            time.sleep(wait)  # Retry-After is truthful: after it, not limited
            after = c.get("/v1/me", headers={"Authorization": "Bearer nope"}).status_code
    finally:
        srv.stop()
    rows = [r for r in srv.audit() if r["actor"] == "anonymous"]
    return {"statuses": statuses, "retry": retry, "after": after, "rows": rows}


def test_blackbox_rotating_forwarded_for_does_not_reset_the_limit(denied: dict[str, Any]) -> None:
    statuses = denied["statuses"]
    assert statuses.count(401) <= 6 and statuses.count(429) >= 54, statuses


def test_blackbox_anonymous_retry_after_is_truthful(denied: dict[str, Any]) -> None:
    assert denied["retry"] and all(x.isdigit() and int(x) >= 1 for x in denied["retry"]), denied[
        "retry"
    ]
    assert denied["after"] == 401  # not 429 once Retry-After has passed


def test_blackbox_denials_are_aggregated_not_one_audit_row_each(denied: dict[str, Any]) -> None:
    rows = denied["rows"]
    assert 2 <= len(rows) <= 5, [(r["action"], r["detail"]) for r in rows]
    assert sum(r["detail"].get("count", 1) for r in rows) == 61, [r["detail"] for r in rows]


def test_blackbox_anonymous_audit_records_hold_no_caller_text(denied: dict[str, Any]) -> None:
    for r in denied["rows"]:
        assert "EVIL" not in json.dumps(r) and r["action"] == "auth", r


def test_blackbox_audit_records_the_socket_address_not_forwarded_for(
    denied: dict[str, Any],
) -> None:
    for r in denied["rows"]:
        assert r["detail"].get("client") == "127.0.0.1", r
        assert "10.0." not in json.dumps(r), r


def test_blackbox_rate_limit_holds_across_two_server_processes(
    tmp_path: Path, pg_server: object
) -> None:
    url = pg_database(pg_server)
    env = {"RISKGRID_RATE_LIMIT_PER_SECOND": "0.01", "RISKGRID_RATE_LIMIT_BURST": "10"}
    state = tmp_path / "s"  # shared: both replicas trust the same dev signing key
    a = serve(state, url, **env)
    try:
        b = serve(state, url, "--no-migrate", **env)
        try:
            token = a.token("dana", PLATFORM_ADMINS)
            codes = []
            for i in range(30):
                r = httpx.get(
                    f"{(a, b)[i % 2].url}/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
                codes.append(r.status_code)
        finally:
            b.stop()
    finally:
        a.stop()
    # one budget of 10 for both replicas (per-process budgets would allow 20)
    assert codes.count(200) == 10 and codes.count(429) == 20, codes
