"""Workloads become representative pods with their template labels and named ports."""

from __future__ import annotations

from typing import Any

from riskgrid.netpol.analysis import connectivity


def _tpl(labels: dict[str, str], ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "c", "image": "x", "ports": ports or []}]},
    }


def _workloads() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "t", "labels": {"tenant": "t"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "t"},
         "spec": {"replicas": 3, "template": _tpl({"app": "d"}, [{"name": "web",
                                                                  "containerPort": 80}])}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "s", "namespace": "t"}, "spec": {"template": _tpl({"app": "s"})}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": "ds", "namespace": "t"}, "spec": {"template": _tpl({"app": "ds"})}},
        {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": "j", "namespace": "t"}, "spec": {"template": _tpl({"app": "j"})}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "namespace": "t"},
         "spec": {"jobTemplate": {"spec": {"template": _tpl({"app": "cj"})}}}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "rs", "namespace": "t"}, "spec": {"template": _tpl({"app": "rs"})}},
        {"apiVersion": "ray.io/v1", "kind": "RayCluster",
         "metadata": {"name": "ray", "namespace": "t"},
         "spec": {
             "headGroupSpec": {"template": _tpl({}, [{"name": "client",
                                                     "containerPort": 10001}])},
             "workerGroupSpecs": [{"groupName": "cpu", "template": _tpl({"extra": "1"})}],
         }},
    ]  # fmt: skip


def test_every_workload_kind_yields_a_pod() -> None:
    mx = connectivity(_workloads(), add_cluster_dns=False)
    kinds = {p.id: p.kind for p in mx.pods}
    assert kinds == {
        "t/d": "Deployment",
        "t/s": "StatefulSet",
        "t/ds": "DaemonSet",
        "t/j": "Job",
        "t/cj": "CronJob",
        "t/rs": "ReplicaSet",
        "t/ray-head": "RayCluster",
        "t/ray-worker-cpu": "RayCluster",
    }
    head = next(p for p in mx.pods if p.id == "t/ray-head")
    assert head.labels["ray.io/node-type"] == "head"
    assert head.labels["ray.io/cluster"] == "ray"
    worker = next(p for p in mx.pods if p.id == "t/ray-worker-cpu")
    assert worker.labels["ray.io/group"] == "cpu" and worker.labels["extra"] == "1"


def test_policies_select_synthesised_pods_and_named_ports() -> None:
    head_only = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "head", "namespace": "t"},
        "spec": {
            "podSelector": {"matchLabels": {"ray.io/node-type": "head"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "d"}}}],
                    "ports": [{"port": "client"}],
                }
            ],
        },
    }
    mx = connectivity([*_workloads(), head_only], add_cluster_dns=False)
    assert mx.allowed("t/d", "t/ray-head", 10001)
    assert not mx.allowed("t/d", "t/ray-head", 10002)
    assert not mx.allowed("t/j", "t/ray-head", 10001)
    assert mx.allowed("t/j", "t/ray-worker-cpu", 1234)  # workers are not selected: open


def test_identical_pods_share_a_class() -> None:
    pods = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "n",
                                                         "labels": {"app": "same"}},
         "spec": {"containers": []}}
        for i in range(5)
    ]  # fmt: skip
    mx = connectivity(pods, add_cluster_dns=False)
    assert len(mx.pods) == 5 and len(mx.classes) == 1
    # A pod's traffic to itself is not listed; to its identical siblings it is.
    pairs = {(c.src, c.dst) for c in mx.connections(external=False)}
    assert ("n/p0", "n/p1") in pairs and ("n/p0", "n/p0") not in pairs


def test_cluster_dns_is_assumed_unless_declared() -> None:
    assert "kube-system/kube-dns" in {p.id for p in connectivity([]).pods}
    declared = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "coredns-1",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns"},
        },
        "spec": {"containers": []},
    }
    ids = {p.id for p in connectivity([declared]).pods}
    assert ids == {"kube-system/coredns-1"}
