"""`cluster audit`: pods judged with their controller, exceptions, PolicyReports."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml
from cluster_helpers import pod, snapshot_dir

from riskgrid.cli.main import main
from riskgrid.cluster.audit import audit_snapshot
from riskgrid.cluster.policyreport import policy_reports
from riskgrid.cluster.snapshot import load_snapshot
from riskgrid.spec.exceptions import PolicyException
from riskgrid.tenancy.schemas import validate_object

NS = "eq-vol"


def _owner(kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    api = "apps/v1"
    return [{"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": True}]


def _privileged(obj_spec: dict[str, Any]) -> None:
    obj_spec["containers"][0]["securityContext"] = {"privileged": True}


def world() -> list[dict[str, Any]]:
    template_pod = pod(NS, "tmpl", None, {"app": "web"})
    _privileged(template_pod["spec"])
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "uid": "d-1"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template_pod["spec"]},
        },
    }
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d9",
            "namespace": NS,
            "uid": "rs-1",
            "ownerReferences": _owner("Deployment", "web", "d-1"),
        },
        "spec": copy.deepcopy(deploy["spec"]),
    }
    pods = []
    for i in range(3):
        p = pod(
            NS,
            f"web-5d9-{i}",
            f"10.1.0.{i + 1}",
            {"app": "web"},
            ownerReferences=_owner("ReplicaSet", "web-5d9", "rs-1"),
        )
        p["spec"] = copy.deepcopy(template_pod["spec"])
        pods.append(p)
    # A webhook added hostPID to one running replica only: drift from the template.
    pods[2]["spec"]["hostPID"] = True
    bare = pod(NS, "debug", "10.1.0.9", {"app": "debug"})
    _privileged(bare["spec"])
    orphan = pod(
        NS,
        "orphan",
        "10.1.0.10",
        {"app": "web"},
        ownerReferences=_owner("ReplicaSet", "gone", "rs-9"),
    )
    _privileged(orphan["spec"])
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    return [ns, deploy, rs, *pods, bare, orphan]


def _exc(name: str, pod_name: str, expires: str) -> PolicyException:
    return PolicyException.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyException",
            "metadata": {"name": name},
            "spec": {
                "policy": "RG-PSS-002",
                "scope": {"namespace": NS, "name": pod_name},
                "justification": "debug pod approved for the incident window",
                "approver": "sec-team",
                "expires": expires,
            },
        }
    )


def test_pods_are_reported_once_against_their_controller(tmp_path: Path) -> None:
    snap = load_snapshot([snapshot_dir(tmp_path, world())])
    res = audit_snapshot(snap, today=dt.date(2026, 11, 29))
    priv = [v for v in res.report.violations if v.policy_id == "RG-PSS-002"]
    refs = sorted(v.object_ref for v in priv)
    # The Deployment once (not its ReplicaSet, not its 3 pods); the bare pod; and the pod
    # whose owner is not in the snapshot.
    assert refs == ["Deployment/eq-vol/web", "Pod/eq-vol/debug", "Pod/eq-vol/orphan"]
    assert res.folded["Pod/eq-vol/web-5d9-0"] == "Deployment/eq-vol/web"
    assert res.folded["ReplicaSet/eq-vol/web-5d9"] == "Deployment/eq-vol/web"
    assert "Pod/eq-vol/orphan" not in res.folded
    host = [v for v in res.report.violations if v.policy_id == "RG-PSS-001"]
    assert [(v.object_ref, "seen in running Pod/eq-vol/web-5d9-2" in v.message) for v in host] == [
        ("Deployment/eq-vol/web", True)
    ]


def test_exceptions_waive_and_expired_ones_are_reported(tmp_path: Path) -> None:
    snap = load_snapshot([snapshot_dir(tmp_path, world())])
    excs = [_exc("debug-ok", "debug", "2026-12-31"), _exc("orphan-old", "orphan", "2026-01-31")]
    res = audit_snapshot(snap, exceptions=excs, today=dt.date(2026, 11, 29))
    assert [v.object_ref for v in res.report.waived] == ["Pod/eq-vol/debug"]
    assert res.report.waived[0].excepted_by == "debug-ok"
    assert any(
        v.object_ref == "Pod/eq-vol/orphan" and v.policy_id == "RG-PSS-002"
        for v in res.report.violations
    )
    assert res.report.expired_exceptions == ["orphan-old (RG-PSS-002, expired 2026-01-31)"]


def test_policy_reports_validate_against_the_wg_policy_crd(tmp_path: Path) -> None:
    objs = [
        *world(),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "all"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
    ]
    snap = load_snapshot([snapshot_dir(tmp_path, objs)])
    res = audit_snapshot(
        snap, exceptions=[_exc("debug-ok", "debug", "2026-12-31")], today=dt.date(2026, 11, 29)
    )
    reports = policy_reports(res, now=dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC))
    kinds = [(r["kind"], r["metadata"].get("namespace")) for r in reports]
    assert kinds == [("PolicyReport", NS), ("ClusterPolicyReport", None)]
    for r in reports:
        assert validate_object(r) == [], r["kind"]
    ns_report = reports[0]
    fails = [x for x in ns_report["results"] if x["result"] == "fail"]
    skips = [x for x in ns_report["results"] if x["result"] == "skip"]
    assert ns_report["summary"]["fail"] == len(fails) > 0
    assert [x["properties"]["exception"] for x in skips] == ["debug-ok"]
    assert {x["resources"][0]["kind"] for x in fails} >= {"Deployment", "Pod"}
    assert all(x["resources"][0]["namespace"] == NS for x in fails)
    dep = next(x["resources"][0] for x in fails if x["resources"][0]["kind"] == "Deployment")
    assert dep == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": NS,
        "uid": "d-1",
    }
    assert reports[1]["summary"]["fail"] >= 1  # the wildcard ClusterRole
    broken = copy.deepcopy(ns_report)
    broken["results"][0]["result"] = "failed"
    assert validate_object(broken), "the CRD check must be able to fail"


def test_cli_formats_and_partial_exit(tmp_path: Path, capsys) -> None:
    path = snapshot_dir(tmp_path, world())
    for fmt in ("text", "sarif", "junit"):
        assert main(["cluster", "audit", str(path), "-f", fmt]) == 1
        assert "RG-PSS-002" in capsys.readouterr().out
    assert main(["cluster", "audit", str(path), "-f", "policyreport"]) == 1
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert docs[0]["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    f = path / "objects/v1_pods.jsonl"
    f.write_text(f.read_text()[:-200])
    assert main(["cluster", "audit", str(path), "-f", "json"]) == 2
    out = capsys.readouterr()
    assert "PARTIAL ANALYSIS" in out.err
    data = json.loads(out.out)
    assert data["partial"].startswith("PARTIAL ANALYSIS")
    assert any("v1_pods.jsonl" in e["source"] for e in data["errors"])
