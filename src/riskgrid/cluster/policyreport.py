"""Audit results as wg-policy PolicyReports (``wgpolicyk8s.io/v1alpha2``).

One ``PolicyReport`` per namespace and one ``ClusterPolicyReport`` for cluster-scoped
objects, as Kyverno and Gatekeeper's report exporters emit them: a ``fail`` result per
finding, a ``skip`` result per finding waived by an exception (``properties.exception`` names
it), and ``summary`` counts. Objects without findings are counted in ``summary.pass`` only
(one ``pass`` result per object and policy would make reports thousands of entries long).
Severity maps one to one (the CRD's enum includes ``critical``). Validated in the tests
against the vendored CRD (tenancy/crds/wgpolicyk8s.io_*.yaml).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from riskgrid.cluster.audit import AuditResult
from riskgrid.policy.report import Violation

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SOURCE = "riskgrid"


_Index = dict[tuple[str, str, str], dict[str, Any]]


def _result(v: Violation, outcome: str, index: _Index, ts: int) -> dict[str, Any]:
    obj = index.get((v.kind, v.namespace, v.name)) or {}
    res: dict[str, Any] = {"apiVersion": str(obj.get("apiVersion", "v1")), "kind": v.kind}
    res["name"] = v.name
    if v.namespace:
        res["namespace"] = v.namespace
    uid = (obj.get("metadata") or {}).get("uid")
    if uid:
        res["uid"] = str(uid)
    props = {"path": v.path, "hint": v.hint}
    if v.container:
        props["container"] = v.container
    if v.excepted_by:
        props["exception"] = v.excepted_by
    return {
        "policy": v.policy_id,
        "rule": v.policy_id,
        "message": v.message if outcome == "fail" else f"waived: {v.message}",
        "result": outcome,
        "severity": v.severity,
        "source": SOURCE,
        "scored": True,
        "category": v.title,
        "resources": [res],
        "properties": props,
        "timestamp": {"seconds": ts, "nanos": 0},
    }


def policy_reports(result: AuditResult, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The reports, namespaces in name order, the ClusterPolicyReport last."""
    ts = int((now or dt.datetime.now(dt.UTC)).timestamp())
    index: _Index = {}
    for o in result.objects:
        meta: dict[str, Any] = o.get("metadata") or {}
        key = (str(o.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))
        index.setdefault(key, o)
    per_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    objects_per_ns: dict[str, set[str]] = defaultdict(set)
    failing_per_ns: dict[str, set[str]] = defaultdict(set)
    for o in result.objects:
        meta = o.get("metadata") or {}
        ref = f"{o.get('kind')}/{meta.get('name')}"
        if ref.startswith("Pod/") or not meta.get("name"):
            continue  # pods are judged with their controller or stand alone below
        objects_per_ns[str(meta.get("namespace") or "")].add(ref)
    for o in result.objects:
        meta = o.get("metadata") or {}
        if o.get("kind") == "Pod":
            ns = str(meta.get("namespace") or "")
            full = f"Pod/{ns}/{meta.get('name')}"
            if full not in result.folded:
                objects_per_ns[ns].add(f"Pod/{meta.get('name')}")
    for v in result.report.violations:
        per_ns[v.namespace].append(_result(v, "fail", index, ts))
        failing_per_ns[v.namespace].add(f"{v.kind}/{v.name}")
    for v in result.report.waived:
        per_ns[v.namespace].append(_result(v, "skip", index, ts))
    out: list[dict[str, Any]] = []
    for ns in sorted(set(per_ns) | set(objects_per_ns)):
        results = per_ns.get(ns, [])
        summary = {
            "pass": len(objects_per_ns[ns] - failing_per_ns[ns]),
            "fail": sum(1 for r in results if r["result"] == "fail"),
            "warn": 0,
            "error": 0,
            "skip": sum(1 for r in results if r["result"] == "skip"),
        }
        meta = {
            "name": f"riskgrid-{ns}" if ns else "riskgrid-cluster",
            "labels": {"app.kubernetes.io/managed-by": "riskgrid"},
        }
        if result.partial_banner:
            meta["annotations"] = {"riskgrid.io/partial": result.partial_banner}
        if ns:
            meta["namespace"] = ns
        out.append(
            {
                "apiVersion": API_VERSION,
                "kind": "PolicyReport" if ns else "ClusterPolicyReport",
                "metadata": meta,
                "summary": summary,
                "results": results,
            }
        )
    out.sort(key=lambda r: (r["kind"] == "ClusterPolicyReport", r["metadata"].get("namespace", "")))
    return out
