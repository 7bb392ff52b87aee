"""Drift from the rendered bundles, and reachability / isolation on the live state with the
pods' real addresses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cluster_helpers import TENANT_FILES, live_copy, pod, rendered_world, snapshot_dir

from riskgrid.cli.main import main
from riskgrid.cluster.drift import drift
from riskgrid.cluster.reach import isolation, snapshot_matrix
from riskgrid.cluster.snapshot import load_snapshot
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.render import render_tenants
from riskgrid.tenancy.verify import allowed_egress

EQ, FX = "eq-vol", "desk-fx-options"


def _live(extra: list[dict[str, Any]] | None = None, drop: set[str] | None = None) -> list:
    _, objs = rendered_world()
    out = [
        live_copy(o, i)
        for i, o in enumerate(objs)
        if f"{o['kind']}/{o['metadata'].get('name')}" not in (drop or set())
    ]
    return [*out, *(extra or [])]


def _find(objs: list[dict[str, Any]], kind: str, ns: str, name: str) -> dict[str, Any]:
    return next(
        o
        for o in objs
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and o["metadata"].get("namespace") == ns
    )


def _iso(snap):
    tenants, _ = rendered_world()
    return isolation(
        snap,
        tenants={t.name: {t.namespace} for t in tenants},
        allowed_egress={t.name: allowed_egress(t) for t in tenants},
    )


def test_live_copy_of_the_bundles_has_no_drift_and_isolation_holds(tmp_path: Path) -> None:
    pods = [pod(EQ, "w1", "10.1.0.5"), pod(FX, "w2", "10.1.1.5")]
    snap = load_snapshot([snapshot_dir(tmp_path, _live(pods))])
    tenants, _ = rendered_world()
    report = drift(snap, [*render_platform(tenants), *render_tenants(tenants)], tenants)
    assert report.clean, report.to_dict()
    # Gatekeeper objects are rendered but a snapshot does not read them: said, not hidden.
    assert report.not_compared and all("Rg" in r or "Constraint" in r for r in report.not_compared)
    res = _iso(snap)
    assert res.holds is True and res.findings == [] and res.undecided == []


def test_missing_extra_and_changed_fields(tmp_path: Path) -> None:
    live = _live(
        drop={"NetworkPolicy/allow-dns", "GlobalNetworkPolicy/riskgrid-isolation.tenant-eq-vol"}
    )
    deny = _find(live, "NetworkPolicy", EQ, "default-deny")
    deny["spec"]["policyTypes"] = ["Ingress"]  # someone removed egress isolation by hand
    deny["metadata"]["labels"]["riskgrid.dev/tenant"] = "other"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "hand-made", "namespace": EQ},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}],
    }
    snap = load_snapshot([snapshot_dir(tmp_path, [*live, role])])
    tenants, _ = rendered_world()
    report = drift(snap, [*render_platform(tenants), *render_tenants(tenants)], tenants)
    assert sorted(report.missing) == [
        "GlobalNetworkPolicy/riskgrid-isolation.tenant-eq-vol",
        f"NetworkPolicy/{FX}/allow-dns",
        f"NetworkPolicy/{EQ}/allow-dns",
    ]
    assert report.extra == [f"Role/{EQ}/hand-made"]
    changes = {str(c) for c in report.changed[f"NetworkPolicy/{EQ}/default-deny"]}
    assert "spec.policyTypes: rendered ['Ingress', 'Egress'], live ['Ingress']" in changes
    assert any(c.startswith("metadata.labels.riskgrid.dev/tenant:") for c in changes)
    # Server-set fields (uid, resourceVersion, managedFields, status…) never count as drift.
    assert len(report.changed) == 1


def _broken_world(fx_ip: str | None) -> list[dict[str, Any]]:
    """The isolation tier and fx's default-deny gone, fx open to all ingress: only eq-vol's
    egress allow-list (ipBlock 10.40.12.0/24) stands between the tenants."""
    live = [
        o
        for o in _live()
        if o["kind"] != "GlobalNetworkPolicy"
        and not (o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == FX)
    ]
    open_fx = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "open", "namespace": FX},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
    }
    return [*live, open_fx, pod(EQ, "w1", "10.1.0.5"), pod(FX, "w2", fx_ip)]


def test_ipblock_covering_a_pod_address_breaks_isolation(tmp_path: Path) -> None:
    inside = load_snapshot([snapshot_dir(tmp_path, _broken_world("10.40.12.9"), "in")])
    res = _iso(inside)
    assert res.holds is False
    assert any(f.kind == "cross-tenant" and f.source == f"{EQ}/w1" for f in res.findings)
    mx, _ = snapshot_matrix(inside)
    d = mx.explain(f"{EQ}/w1", f"{FX}/w2", 443)
    assert d.allowed and not d.depends_on_addresses
    assert any("allow-egress-allow-list" in p for p in d.policies())
    outside = load_snapshot([snapshot_dir(tmp_path, _broken_world("10.9.9.9"), "out")])
    assert _iso(outside).holds is True


def test_pod_without_address_makes_isolation_undecided(tmp_path: Path) -> None:
    snap = load_snapshot([snapshot_dir(tmp_path, _broken_world(None))])
    res = _iso(snap)
    assert res.holds is None and res.verdict() == "UNDECIDED"
    assert (f"{EQ}/w1", f"{FX}/w2") in res.undecided


def test_cli_drift_matrix_explain_isolation(tmp_path: Path, capsys) -> None:
    clean = snapshot_dir(
        tmp_path, _live([pod(EQ, "w1", "10.1.0.5"), pod(FX, "w2", "10.1.1.5")]), "clean"
    )
    files = [str(f) for f in TENANT_FILES]
    assert main(["cluster", "drift", str(clean), *files]) == 0
    assert "isolation on the live state: HOLDS" in capsys.readouterr().out
    broken = snapshot_dir(tmp_path, _broken_world(None), "broken")
    assert main(["cluster", "drift", str(broken), *files, "-f", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["isolation"] == "UNDECIDED" and data["missing"]
    assert main(["cluster", "isolation", str(broken)]) == 3
    assert (
        main(
            [
                "cluster",
                "explain",
                str(broken),
                "--from",
                f"{EQ}/w1",
                "--to",
                f"{FX}/w2",
                "--port",
                "443",
            ]
        )
        == 3
    )
    assert "UNDECIDED" in capsys.readouterr().out
    assert main(["cluster", "matrix", str(broken)]) == 0
    assert f"{EQ}/w1 -> {FX}/w2 UNDECIDED" in capsys.readouterr().out


def test_netpol_commands_take_a_snapshot(tmp_path: Path, capsys) -> None:
    snap = snapshot_dir(tmp_path, _broken_world("10.40.12.9"))
    argv = ["netpol", "explain", str(snap), "--from", f"{EQ}/w1", "--to", f"{FX}/w2"]
    assert main([*argv, "--port", "443"]) == 0
    assert "ALLOWED" in capsys.readouterr().out
    assert main(["netpol", "matrix", str(snap), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"src": f"{EQ}/w1", "dst": f"{FX}/w2", "ports": "TCP:443"} in data["connections"]
    assert data["undecided"] == []
