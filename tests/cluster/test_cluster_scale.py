"""The synthetic cluster of the scale benchmark, small: the whole pipeline, with answers that
follow from how it is built."""

from __future__ import annotations

from pathlib import Path

from riskgrid.cluster.audit import audit_snapshot
from riskgrid.cluster.reach import isolation, snapshot_matrix
from riskgrid.cluster.snapshot import load_snapshot, write_objects
from riskgrid.cluster.synthetic import synthetic_objects


def test_small_synthetic_cluster_end_to_end(tmp_path: Path) -> None:
    objs = list(synthetic_objects(namespaces=4, deployments_per_ns=3, replicas=6))
    assert sum(o["kind"] == "Pod" for o in objs) == 4 * 3 * 6
    snap = load_snapshot([write_objects(tmp_path / "s", objs, cluster="syn")])
    assert not snap.partial
    res = audit_snapshot(snap)
    priv = sorted(v.object_ref for v in res.report.violations if v.policy_id == "RG-PSS-002")
    # app0 of each namespace is privileged: one finding per Deployment, none per pod or RS.
    assert priv == [f"Deployment/ns-{i}/app0" for i in range(4)]
    assert len(res.folded) == 4 * 3 * (6 + 1)
    mx, _ = snapshot_matrix(snap)
    assert mx.n_classes == 4 * 3  # replicas share a class: same labels, same /24 atom
    # ns-0's app0 admits its neighbour's /24 on 8000 at ingress, but ns-1's egress is
    # confined to its own namespace: denied, and decided (every pod has an address).
    d = mx.explain("ns-1/app1-1-0", "ns-0/app0-1-0", 8000)
    assert d.ingress is not None and d.ingress.action == "Allow"
    assert d.egress is not None and d.egress.action == "Deny"
    assert not d.allowed and not d.depends_on_addresses
    assert mx.allowed("ns-2/app1-1-0", "ns-2/app0-1-1", 8000)
    assert isolation(snap, mx).holds is True
