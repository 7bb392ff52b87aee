"""The API over HTTP on loopback: jobs end to end, admission, hostile input, limits, metrics,
audit records, dev mode and non-dev OIDC configuration."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator

import jwt
import pandas as pd
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from service_helpers import (
    PLATFORM_ADMINS,
    LiveServer,
    dev_settings,
    job_file,
    start_server,
    tenant_doc,
)

from riskgrid.client import Client
from riskgrid.service.audit import AuditLog, verify_database
from riskgrid.service.jobfiles import pack_job
from riskgrid.service.runner import TenantLimits, pick_next
from riskgrid.service.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("api")
    server = start_server(dev_settings(tmp / "state", rate_limit_burst=10_000))
    admin = server.client(server.token("root", PLATFORM_ADMINS))
    for name in ("desk-a", "desk-b"):
        assert admin.post("/v1/tenants", json=tenant_doc(name)).status_code == 201
    server.tmp = tmp  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def idle(tmp_path_factory) -> Iterator[LiveServer]:
    """A server whose runner is off: submitted jobs stay queued."""
    tmp = tmp_path_factory.mktemp("idle")
    server = start_server(
        dev_settings(tmp / "state", rate_limit_burst=10_000, runner_enabled=False)
    )
    admin = server.client(server.token("root", PLATFORM_ADMINS))
    assert admin.post("/v1/tenants", json=tenant_doc("desk-a")).status_code == 201
    server.tmp = tmp  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def _body(srv: LiveServer, tenant: str = "desk-a", **edit) -> dict:
    doc, files = pack_job(job_file(srv.tmp, tenant))  # type: ignore[attr-defined]
    for path, value in edit.items():
        node = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        if value is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value
    return {"job": doc, "files": files}


def test_submit_run_and_fetch_results_with_the_python_client(srv):
    dev = Client(srv.url, srv.token("dana", "desk-a-devs"), tenant="desk-a")
    job = dev.submit(job_file(srv.tmp, "desk-a"))  # type: ignore[attr-defined]
    assert job.data["state"] == "queued" and job.data["submitted_by"] == "dana"
    seen = []
    final = job.wait(timeout=120, poll=0.1, on_progress=lambda d: seen.append(d["state"]))
    assert final["state"] == "succeeded" and final["tasks"]["done"] == final["tasks"]["total"] > 0
    assert "pnl_portfolio.parquet" in final["result_files"]
    res = job.result()
    assert res.result["status"] == "completed" and res.result["job"] == "small"
    assert isinstance(res.pnl, pd.DataFrame) and len(res.pnl) == res.result["scenarios"]
    m = res.measures
    assert m.loc[("portfolio", "total"), "pv"] == pytest.approx(res.result["portfolio"]["pv"])
    # the P&L behind VaR is consistent with the stored result: 99% VaR is a loss quantile
    assert -res.pnl["pnl"].min() >= res.result["portfolio"]["var"]["0.99"] > 0
    files = job.download(srv.tmp / "dl")  # type: ignore[attr-defined]
    raw = (srv.tmp / "dl" / "pnl_portfolio.parquet").read_bytes()  # type: ignore[attr-defined]
    assert {p.name for p in files} == set(final["result_files"])
    assert pd.read_parquet(io.BytesIO(raw)).equals(res.pnl)
    assert [j["id"] for j in dev.jobs(tenant="desk-a")].count(job.id) == 1

    metrics = srv.client().get("/metrics").text
    assert 'riskgrid_jobs{state="succeeded"}' in metrics
    assert 'riskgrid_tasks_total{outcome="done"}' in metrics
    assert 'riskgrid_policy_decisions_total{decision="allow",source="admission"}' in metrics
    assert 'riskgrid_http_request_duration_seconds_bucket{le="0.005",method="POST",' in metrics
    assert 'route="/v1/tenants/{tenant}/jobs"' in metrics


def test_policy_rejection_returns_the_policy_message_and_is_audited(srv):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    # a blank cost-centre label: present (so not defaulted from the tenant) but empty
    body = _body(srv, **{"metadata.labels": {"riskgrid.dev/cost-centre": ""}})
    r = c.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422
    out = r.json()
    assert out["detail"].startswith("rejected by policy RG-GOV-001")
    assert {v["policy_id"] for v in out["violations"]} == {"RG-GOV-001"}
    assert any("cost-centre" in (v["path"] or "") for v in out["violations"])
    rows = AuditLog(srv.app.state.services.db).rows()
    rec = next(r for r in rows if r.request_id == out["request_id"])
    assert (rec.actor, rec.tenant, rec.action, rec.decision) == (
        "dana",
        "desk-a",
        "job.submit",
        "deny",
    )
    assert json.loads(rec.detail)["reason"] == "policy"


def test_ownership_labels_are_stamped_and_cannot_be_forged(srv):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    r = c.post("/v1/tenants/desk-a/jobs", json=_body(srv, **{"metadata.labels": None}))
    assert r.status_code == 201  # unlabelled example jobs are accepted: labels come from the tenant
    stored = srv.app.state.services.db
    from riskgrid.service.models import JobRow

    with stored.session() as s:
        labels = s.get(JobRow, r.json()["id"]).inputs["job"]["metadata"]["labels"]
    assert labels == {"riskgrid.dev/tenant": "desk-a", "riskgrid.dev/cost-centre": "CC-4711"}
    forged = _body(srv, **{"metadata.labels": {"riskgrid.dev/tenant": "desk-b"}})
    r = c.post("/v1/tenants/desk-a/jobs", json=forged)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("rejected by policy RG-ADM-001")


def test_invalid_job_names_the_field_and_hides_server_paths(srv):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    r = c.post("/v1/tenants/desk-a/jobs", json=_body(srv, **{"spec.grid.targetTaskSeconds": -1}))
    assert r.status_code == 422
    text = r.text
    assert "spec.grid.targetTaskSeconds" in text and "riskgrid-submit-" not in text
    assert "/tmp" not in text


@pytest.mark.parametrize(
    "edit",
    [
        {"spec.marketData.snapshot": "../../../../etc/passwd"},
        {"spec.marketData.snapshot": "/etc/passwd"},
    ],
)
def test_job_cannot_reference_server_files(srv, edit):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    r = c.post("/v1/tenants/desk-a/jobs", json=_body(srv, **edit))
    assert r.status_code == 422 and "must name an uploaded file" in r.text


def test_uploaded_file_names_cannot_escape(srv):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    body = _body(srv)
    body["files"]["../escape.csv"] = base64.b64encode(b"x").decode()
    r = c.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422 and "inside the job directory" in r.text
    assert not (srv.settings.state_dir.parent / "escape.csv").exists()


def test_unknown_fields_and_bad_parameters_are_rejected(srv):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    body = {**_body(srv), "priority": "urgent"}
    r = c.post("/v1/tenants/desk-a/jobs", json=body)
    assert r.status_code == 422 and r.json()["problems"][0]["loc"] == ["body", "priority"]
    assert c.get("/v1/jobs", params={"limit": 101}).status_code == 422
    assert c.get("/v1/jobs", params={"limit": 0}).status_code == 422
    assert c.get("/v1/jobs/not-a-job-id").status_code == 422
    doc = tenant_doc("desk-z")
    doc["spec"]["quotas"]["surprise"] = 1
    admin = srv.client(srv.token("root", PLATFORM_ADMINS))
    assert admin.post("/v1/tenants", json=doc).status_code == 422


def test_tenant_conflicts(srv):
    admin = srv.client(srv.token("root", PLATFORM_ADMINS))
    assert admin.post("/v1/tenants", json=tenant_doc("desk-a")).status_code == 409
    clash = tenant_doc("desk-c")
    clash["spec"]["namespace"] = "desk-a"
    r = admin.post("/v1/tenants", json=clash)
    assert r.status_code == 409 and "namespace" in r.json()["detail"]
    assert admin.get("/v1/tenants/desk-c").status_code == 404  # nothing half-written
    view = admin.get("/v1/tenants/desk-a").json()
    assert view["verification"]["ok"] is True
    kinds = {o["kind"] for o in view["bundle"]}
    assert {"Namespace", "ResourceQuota", "NetworkPolicy"} <= kinds


def test_cancel_and_pagination(idle):
    c = idle.client(idle.token("dana", "desk-a-devs"))
    ids = [c.post("/v1/tenants/desk-a/jobs", json=_body(idle)).json()["id"] for _ in range(3)]
    page = c.get("/v1/jobs", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    rest = c.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()
    assert rest["next_offset"] is None
    assert {j["id"] for j in page["items"] + rest["items"]} == set(ids)
    assert [j["id"] for j in page["items"]] == ids[::-1][:2]  # newest first
    r = c.post(f"/v1/jobs/{ids[0]}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    again = c.post(f"/v1/jobs/{ids[0]}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    assert c.get(f"/v1/jobs/{ids[0]}/result").status_code == 409
    queued = c.get("/v1/jobs", params={"state": "queued"}).json()["items"]
    assert {j["id"] for j in queued} == set(ids[1:])


def test_rate_limit_per_principal(tmp_path):
    s = start_server(
        dev_settings(
            tmp_path / "s", rate_limit_burst=5, rate_limit_per_second=0.01, runner_enabled=False
        )
    )
    try:
        a = s.client(s.token("alice", "g"))
        codes = [a.get("/v1/me").status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        r = a.get("/v1/me")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert s.client(s.token("bob", "g")).get("/v1/me").status_code == 200  # per principal
        rows = AuditLog(s.app.state.services.db).rows()
        assert any(r.actor == "alice" and r.action == "rate-limit" for r in rows)
    finally:
        s.stop()


def test_request_size_limit(tmp_path):
    s = start_server(dev_settings(tmp_path / "s", max_body_bytes=2000, runner_enabled=False))
    try:
        c = s.client(s.token("alice", PLATFORM_ADMINS))
        r = c.post("/v1/policy/check", json={"objects": [{"kind": "x" * 5000}]})
        assert r.status_code == 413

        def chunks():  # no Content-Length: the limit holds while streaming too
            for _ in range(10):
                yield b" " * 500

        r = c.post(
            "/v1/policy/check", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert c.post("/v1/policy/check", json={"objects": []}).status_code == 200
    finally:
        s.stop()


def test_audit_records_mutations_with_request_ids_and_chain_verifies(srv):
    c = srv.client(srv.token("dana", "desk-a-devs"))
    r = c.post("/v1/tenants/desk-a/jobs", json=_body(srv))
    job_id = r.json()["id"]
    c.post(f"/v1/jobs/{job_id}/cancel")
    denied = srv.client(srv.token("vic", "desk-a-viewers")).post(f"/v1/jobs/{job_id}/cancel")
    assert denied.status_code == 403  # a viewer may not cancel (not 409: authz comes first)
    db = srv.app.state.services.db
    rows = AuditLog(db).rows()
    by_rid = {row.request_id: row for row in rows}
    sub = by_rid[r.headers["x-request-id"]]
    assert (sub.actor, sub.tenant, sub.action, sub.object, sub.decision) == (
        "dana",
        "desk-a",
        "job.submit",
        f"job/{job_id}",
        "allow",
    )
    deny = by_rid[denied.headers["x-request-id"]]
    assert (deny.actor, deny.action, deny.decision) == ("vic", "job.cancel", "deny")
    assert any(row.action == "tenant.create" and row.decision == "allow" for row in rows)
    assert all(row.ts and row.request_id for row in rows)
    assert verify_database(db).ok


def test_health_ready_openapi_and_dev_marker(srv):
    c = srv.client()
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json() == {"status": "ready"}
    r = c.get("/openapi.json")
    assert r.headers["x-riskgrid-dev-mode"] == "insecure-local-signing-key"
    assert "/v1/tenants/{tenant}/jobs" in r.json()["paths"]
    r = c.get("/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_dev_mode_refuses_production(tmp_path, monkeypatch, capsys):
    from riskgrid.cli.main import main

    with pytest.raises(SettingsError, match="production"):
        Settings(state_dir=tmp_path, dev_mode=True, environment="production").check()
    monkeypatch.setenv("RISKGRID_ENV", "production")
    monkeypatch.setenv("RISKGRID_STATE_DIR", str(tmp_path))
    assert main(["serve", "--dev", "--port", "1"]) == 2
    assert main(["dev", "token", "--user", "u"]) == 2
    assert "production" in capsys.readouterr().err
    assert not (tmp_path / "dev").exists()


def test_oidc_mode_with_a_jwks_file_and_no_dev_marker(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="RS256")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    settings = Settings(
        state_dir=tmp_path / "s",
        issuer="https://idp.bank.example",
        audience="riskgrid-api",
        jwks=str(tmp_path / "jwks.json"),
        runner_enabled=False,
        environment="production",
    )
    s = start_server(settings)
    try:
        now = int(time.time())
        claims = {
            "iss": "https://idp.bank.example",
            "aud": "riskgrid-api",
            "sub": "carol",
            "groups": ["x"],
            "iat": now,
            "exp": now + 60,
        }
        token = jwt.encode(claims, key, "RS256", headers={"kid": "k1"})
        r = s.client(token).get("/v1/me")
        assert r.status_code == 200 and r.json()["subject"] == "carol"
        assert "x-riskgrid-dev-mode" not in r.headers
        wrong_aud = jwt.encode({**claims, "aud": "other"}, key, "RS256", headers={"kid": "k1"})
        assert s.client(wrong_aud).get("/v1/me").status_code == 401
    finally:
        s.stop()
    with pytest.raises(SettingsError, match="OIDC settings missing"):
        Settings(state_dir=tmp_path, runner_enabled=False).check()


def test_fair_sharing_round_robins_across_tenants():
    limits = lambda t: TenantLimits(max_running_jobs=1 if t == "c" else 5, max_workers=1)  # noqa: E731
    queued = [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("c2", "c")]
    order, running, last = [], {}, None
    for _ in range(6):
        nxt = pick_next(queued, running, limits, last)
        if nxt is None:
            break
        tenant = dict(queued)[nxt]
        order.append(nxt)
        queued = [q for q in queued if q[0] != nxt]
        running[tenant] = running.get(tenant, 0) + 1
        last = tenant
    # one per tenant in turn, oldest first; c is capped at one running job
    assert order == ["a1", "b1", "c1", "a2", "a3"]


def test_tenant_yaml_example_round_trips(srv):
    # the tenant documents the API stores are what the YAML said (aliases, no None fields)
    view = srv.client(srv.token("root", PLATFORM_ADMINS)).get("/v1/tenants/desk-b").json()
    assert view["tenant"]["spec"]["groups"]["developers"] == ["desk-b-devs"]
    assert "namespace" not in view["tenant"]["spec"] or view["tenant"]["spec"]["namespace"]
    assert yaml.safe_dump(view["tenant"])
