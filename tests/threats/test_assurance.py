"""Assured cloud services: every control of the service's threat-model entry implemented and
verified by passing tests, decided from the real model and a test run's JUnit XML."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
import yaml

from riskgrid.spec.cloud_catalogue import CATALOGUE
from riskgrid.threats import evidence as ev
from riskgrid.threats.assurance import assess_services, required_controls
from riskgrid.threats.loader import load_model
from riskgrid.threats.refs import parse_ref
from riskgrid.threats.resolve import RepoResolver

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "threatmodel"
SERVICES = sorted(CATALOGUE)


def _collect(files: list[str]) -> dict[str, set[str]]:
    """Node ids pytest really collects from ``files`` (one run), keyed per file and folder as
    the resolver looks them up — only the files these controls reference, so the policy
    folder's conformance suites are not collected just to find the case tests."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    seeds: dict[str, set[str]] = {}
    for line in out.splitlines():
        if "::" in line and line.split("::", 1)[0] in files:
            path = line.split("::", 1)[0]
            seeds.setdefault(path, set()).add(line)
            seeds.setdefault(str(Path(path).parent), set()).add(line)
    return seeds


@pytest.fixture(scope="module")
def required_nodes() -> dict[str, list[str]]:
    """Control id → the pytest node ids its verification references resolve to (collected by
    pytest for real)."""
    model = load_model(MODEL).model
    controls = {c.id: c for c in model.controls}
    files = sorted({
        "tests/policy/test_policy_library.py"
        if r.startswith("policy-case:") else r.split(":", 1)[1].strip().split("::", 1)[0]
        for s in SERVICES for cid in required_controls(model, s)[1]
        for r in controls[cid].verification
    })  # fmt: skip
    resolver = RepoResolver(ROOT, collected=_collect(files))
    out: dict[str, list[str]] = {}
    for s in SERVICES:
        problem, ids = required_controls(model, s)
        assert problem is None
        for cid in ids:
            nodes: list[str] = []
            for text in controls[cid].verification:
                found, why = resolver.verification_nodes(
                    parse_ref(text, ("test", "isolation", "policy-case"))
                )
                assert not why, why
                nodes += found
            out[cid] = nodes
    return out


def junit(path: Path, outcomes: dict[str, str]) -> Path:
    """A JUnit XML as pytest writes it, with the given outcome per node id."""
    cases = []
    for node, outcome in outcomes.items():
        classname, name = ev.junit_key(node)
        child = {"passed": "", "failed": "<failure message='x'/>", "skipped": "<skipped/>"}[outcome]
        cases.append(f"<testcase classname={quoteattr(classname)} name={quoteattr(name)} "
                     f"time='0.1'>{child}</testcase>")  # fmt: skip
    path.write_text(
        "<?xml version='1.0' encoding='utf-8'?><testsuites><testsuite name='pytest' "
        f"timestamp='2099-01-01T00:00:00'>{''.join(cases)}</testsuite></testsuites>"
    )
    return path


def all_passed(required_nodes) -> dict[str, str]:
    return {n: "passed" for nodes in required_nodes.values() for n in nodes}


def test_assured_with_passing_evidence(tmp_path, required_nodes) -> None:
    j = junit(tmp_path / "j.xml", all_passed(required_nodes))
    got = assess_services(SERVICES, model_dir=MODEL, repo_root=ROOT, junit=j)
    assert got == {s: [] for s in SERVICES}
    # every catalogue service requires the IAM guardrails and the cross-tenant check
    assert all({"C-CLOUD-01", "C-CLOUD-02"} <= set(required_controls(
        load_model(MODEL).model, s)[1]) for s in SERVICES)  # fmt: skip


def test_failed_or_missing_test_refuses(tmp_path, required_nodes) -> None:
    outcomes = all_passed(required_nodes)
    trust = required_nodes["C-CLOUD-03"][0]
    outcomes[trust] = "failed"
    kms_alias = required_nodes["C-CLOUD-07"][0]
    del outcomes[kms_alias]  # not run at all
    j = junit(tmp_path / "j.xml", outcomes)
    got = assess_services(SERVICES, model_dir=MODEL, repo_root=ROOT, junit=j)
    assert all(any(r.startswith("C-CLOUD-03 (not verified: ") and f"{trust} failed" in r
                   for r in got[s]) for s in SERVICES)  # fmt: skip
    # absent from the run: the evidence does not even show the test exists
    [missing] = [r for r in got["kms"] if r.startswith("C-CLOUD-07")]
    assert missing.startswith("C-CLOUD-07 (not verified: ") and kms_alias in missing
    assert not any(r.startswith("C-CLOUD-07") for r in got["s3"])


def test_planned_control_refuses(tmp_path, required_nodes, capsys) -> None:
    model = tmp_path / "threatmodel"
    shutil.copytree(MODEL, model)
    part = model / "cloud-services.yaml"
    doc = yaml.safe_load(part.read_text())
    for c in doc["controls"]:
        if c["id"] == "C-CLOUD-07":
            c["status"] = "planned"
    part.write_text(yaml.safe_dump(doc, sort_keys=False))
    j = junit(tmp_path / "j.xml", all_passed(required_nodes))
    got = assess_services(SERVICES, model_dir=model, repo_root=ROOT, junit=j)
    assert got["kms"] == ["C-CLOUD-07 (planned: not implemented)"]
    assert got["s3"] == got["sqs"] == got["secretsmanager"] == []
    # end to end: the request for kms is refused naming the control, nothing is written
    from riskgrid.cli.main import main

    tenants = [str(ROOT / "examples" / "tenants" / "eq-vol.yaml")]
    common = ["--cluster", str(ROOT / "examples" / "platform" / "eks-cluster.yaml"),
              "--junit", str(j), "--model", str(model)]  # fmt: skip
    out = tmp_path / "out"
    access = str(ROOT / "examples" / "cloud" / "eq-vol-access.yaml")
    assert main(["tenant", "render", *tenants, "--access", access, *common, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{access}: spec.grants[2].service: kms is not an assured service" in err
    assert "C-CLOUD-07 (planned: not implemented)" in err and not out.exists()
    # a request for assured services only renders
    s3_only = yaml.safe_load(Path(access).read_text())
    s3_only["spec"]["grants"] = s3_only["spec"]["grants"][:1]
    s3_file = tmp_path / "s3.yaml"
    s3_file.write_text(yaml.safe_dump(s3_only))
    assert main(["tenant", "render", *tenants, "--access", str(s3_file), *common,
                 "-o", str(out)]) == 0  # fmt: skip
    kinds = sorted(yaml.safe_load(p.read_text())["kind"] for p in out.glob("*.yaml"))
    assert {"Policy", "Role", "PodIdentityAssociation"} <= set(kinds)
    # and tenant verify proves the same tenants with their access: every check, cloud included
    capsys.readouterr()
    assert main(["tenant", "verify", *tenants, "--access", str(s3_file), *common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["checks"] == ["schema", "policy", "network", "cloud"]


def test_no_evidence_refuses(tmp_path) -> None:
    got = assess_services(
        SERVICES, model_dir=MODEL, repo_root=ROOT, evidence=tmp_path / "absent.json"
    )
    for s in SERVICES:
        assert got[s][-1].startswith("no test evidence: ")
        assert "C-CLOUD-01 (not verified)" in got[s]
