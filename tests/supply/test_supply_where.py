"""Where the gate runs: ``riskgrid image verify|sign``, ``riskgrid tenant verify``, and job
submission through the API and ``riskgrid submit`` (with the audit log), all against the real
registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from supply_helpers import push_image, release, sbom, trivy, trust_policy

from riskgrid.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from service_helpers import (
    PLATFORM_ADMINS,
    dev_settings,
    job_file,
    start_server,
    tenant_doc,
)


def _write_policy(path: Path, policy) -> Path:
    path.write_text(yaml.safe_dump(policy.model_dump(by_alias=True, mode="json")))
    return path


def test_cli_keygen_sign_and_verify(registry, keys, tmp_path, capsys):
    host = registry.host
    key = tmp_path / "pipeline.pem"
    assert main(["image", "keygen", "-o", str(key)]) == 0
    digest = push_image(host, "riskgrid/cli-signed", "1.0", b"cli")
    image = f"{host}/riskgrid/cli-signed:1.0"
    (tmp_path / "bom.json").write_text(json.dumps(sbom()))
    (tmp_path / "trivy.json").write_text(json.dumps(trivy([("CVE-2024-7", "low")])))
    for kind, extra in (
        ("provenance", []),
        ("sbom", ["--predicate", str(tmp_path / "bom.json")]),
        ("vuln", ["--predicate", str(tmp_path / "trivy.json")]),
    ):
        args = ["image", "sign", image, "--key", str(key), "--type", kind, "--plain-http", *extra]
        assert main(args) == 0
    assert "attestation sha256:" in capsys.readouterr().out
    policy = trust_policy(host, keys).model_dump(by_alias=True, mode="json")
    policy["spec"]["keys"][0]["publicKey"] = Path(f"{key}.pub").read_text()
    tp = tmp_path / "trust.yaml"
    tp.write_text(yaml.safe_dump(policy))
    assert main(["image", "verify", image, "--trust-policy", str(tp), "--json"]) == 0
    [decision] = json.loads(capsys.readouterr().out)
    assert decision["allowed"] and decision["digest"] == digest and decision["signer"] == "pipeline"
    # the same image under a policy that trusts another pipeline key: refused, exit 1
    other = tmp_path / "other.yaml"
    _write_policy(other, trust_policy(host, keys))
    assert main(["image", "verify", image, "--trust-policy", str(other)]) == 1
    out = capsys.readouterr().out
    assert f"REFUSED {image}: rule signature: no provenance signature over {digest}" in out


def test_cli_bad_trust_policy_and_bad_reference_exit_2(registry, keys, tmp_path, capsys):
    policy = trust_policy(registry.host, keys).model_dump(by_alias=True, mode="json")
    policy["spec"]["rules"][0]["keys"] = ["nobody"]
    policy["spec"]["rules"][0]["vulnerabilities"]["threshold"] = "severe"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(policy))
    assert (
        main(["image", "verify", f"{registry.host}/riskgrid/x:1", "--trust-policy", str(bad)]) == 2
    )
    err = capsys.readouterr().err
    assert f"{bad}: spec.rules[0].vulnerabilities.threshold:" in err
    good = _write_policy(tmp_path / "good.yaml", trust_policy(registry.host, keys))
    assert main(["image", "verify", "python:3.12", "--trust-policy", str(good)]) == 1
    assert "rule reference: image 'python:3.12' is not a reference" in capsys.readouterr().out
    assert main(["image", "sign", "python:3.12", "--key", str(bad)]) == 2
    assert "not an unencrypted PEM private key" in capsys.readouterr().err


def _tenant_file(tmp_path: Path, repo_root: Path, name: str, image: str, host: str) -> Path:
    doc = yaml.safe_load((repo_root / "examples/tenants/fx-options.yaml").read_text())
    doc["spec"]["ray"]["image"] = image
    doc["spec"]["images"]["allowed"] = [f"{host}/riskgrid"]
    out = tmp_path / f"{name}.yaml"
    out.write_text(yaml.safe_dump(doc))
    return out


def test_tenant_verify_checks_the_tenants_ray_image(registry, keys, tmp_path, repo_root, capsys):
    host = registry.host
    good = release(host, "riskgrid/ray-tenant", "2.9.3", keys)
    bad = release(host, "riskgrid/ray-tenant-unsigned", "2.9.3", keys, with_signature=False)
    tp = _write_policy(tmp_path / "trust.yaml", trust_policy(host, keys))
    ok_file = _tenant_file(tmp_path, repo_root, "ok", f"{host}/riskgrid/ray-tenant@{good}", host)
    assert main(["tenant", "verify", str(ok_file), "--trust-policy", str(tp)]) == 0
    assert f"verified as {host}/riskgrid/ray-tenant@{good}" in capsys.readouterr().out
    bad_image = f"{host}/riskgrid/ray-tenant-unsigned@{bad}"
    bad_file = _tenant_file(tmp_path, repo_root, "bad", bad_image, host)
    assert main(["tenant", "verify", str(bad_file), "--trust-policy", str(tp)]) == 1
    out = capsys.readouterr().out
    assert f"image {bad_image}: REFUSED" in out
    assert "policy: RG-IMG-005" in out and "signature: no provenance signature" in out
    # without a trust policy the gate does not run and the bundle is proven as before
    assert main(["tenant", "verify", str(bad_file)]) == 0


@pytest.fixture(scope="module")
def gated(registry, keys, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gated")
    host = registry.host
    good = release(host, "riskgrid/ray-api", "2.9.3", keys)
    bad = release(
        host, "riskgrid/ray-api-vulnerable", "2.9.3", keys, findings=[("CVE-2024-31337", "high")]
    )
    tp = _write_policy(tmp / "trust.yaml", trust_policy(host, keys))
    server = start_server(dev_settings(tmp / "state", runner_enabled=False, trust_policy_file=tp))
    admin = server.client(server.token("root", PLATFORM_ADMINS))
    images = {
        "desk-ok": f"{host}/riskgrid/ray-api@{good}",
        "desk-vuln": f"{host}/riskgrid/ray-api-vulnerable@{bad}",
    }
    for name, image in images.items():
        doc = tenant_doc(name)
        doc["spec"]["ray"]["image"] = image
        doc["spec"]["images"]["allowed"] = [f"{host}/riskgrid"]
        resp = admin.post("/v1/tenants", json=doc)
        assert resp.status_code == 201, resp.text
    server.tmp = tmp  # type: ignore[attr-defined]
    server.images = images  # type: ignore[attr-defined]
    server.digests = {"desk-ok": good, "desk-vuln": bad}  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def test_api_and_cli_submit_refuse_a_job_whose_image_fails_the_gate(gated, monkeypatch, capsys):
    from riskgrid.client import Client
    from riskgrid.service.audit import AuditLog

    srv = gated
    # the API, through the Python client: the desk whose Ray image passes is queued
    dev = Client(srv.url, srv.token("dana", "desk-ok-devs"), tenant="desk-ok")
    assert dev.submit(job_file(srv.tmp, "desk-ok")).data["state"] == "queued"
    # the CLI: refused, with the reason naming the image and the rule
    monkeypatch.setenv("RISKGRID_TOKEN", srv.token("vera", "desk-vuln-devs"))
    monkeypatch.setenv("RISKGRID_CONFIG", str(srv.tmp / "no-config.json"))
    code = main(
        [
            "submit",
            str(job_file(srv.tmp, "desk-vuln")),
            "--tenant",
            "desk-vuln",
            "--server",
            srv.url,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    image = srv.images["desk-vuln"]
    assert "rejected by the image gate (RG-IMG-005)" in err
    assert f"{image}: rule vulnerability: CVE-2024-31337 (high)" in err

    rows = [r for r in AuditLog(srv.app.state.services.db).rows() if r.action == "image.verify"]
    by_tenant = {r.tenant: r for r in rows}
    assert by_tenant["desk-ok"].decision == "allow"
    assert by_tenant["desk-vuln"].decision == "deny"
    for tenant, row in by_tenant.items():
        detail = row.detail if isinstance(row.detail, dict) else json.loads(row.detail)
        assert detail["digest"] == srv.digests[tenant]
        assert row.object == srv.images[tenant]
    vuln_detail = by_tenant["desk-vuln"].detail
    vuln_detail = vuln_detail if isinstance(vuln_detail, dict) else json.loads(vuln_detail)
    assert vuln_detail["reasons"][0].startswith("vulnerability: CVE-2024-31337")
    submit_denials = [
        r
        for r in AuditLog(srv.app.state.services.db).rows()
        if r.action == "job.submit" and r.decision == "deny" and r.tenant == "desk-vuln"
    ]
    assert submit_denials
