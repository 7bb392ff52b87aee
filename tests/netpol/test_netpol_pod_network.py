"""ipBlock/nets and pod addresses: outside every CIDR by default, or a configured pod network."""

from __future__ import annotations

from typing import Any

import yaml
from netpol_cases import WORLD

from riskgrid.netpol.analysis import connectivity

POD_NET = "10.244.0.0/16"


def _objs(*extra: str) -> list[Any]:
    return list(yaml.safe_load_all(WORLD + "".join("---\n" + e for e in extra)))


def _egress_ipblock(block: str) -> str:
    return f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: out, namespace: prod}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Egress]
  egress:
  - to: [{{ipBlock: {block}}}]
"""


def test_ipblock_matches_pods_only_with_a_pod_network() -> None:
    objs = _objs(_egress_ipblock("{cidr: 0.0.0.0/0}"))
    assert not connectivity(objs).allowed("prod/web", "prod/db", 5432)
    with_net = connectivity(objs, pod_network=[POD_NET])
    assert with_net.allowed("prod/web", "prod/db", 5432)
    assert with_net.allowed("prod/web", "8.8.8.8", 443)
    assert with_net.warnings == []


def test_except_covering_the_pod_network_keeps_pods_out() -> None:
    objs = _objs(_egress_ipblock("{cidr: 0.0.0.0/0, except: [10.244.0.0/16]}"))
    mx = connectivity(objs, pod_network=[POD_NET])
    assert not mx.allowed("prod/web", "prod/db", 5432)
    assert mx.allowed("prod/web", "8.8.8.8", 443)


def test_partial_overlap_is_warned_and_not_matched() -> None:
    objs = _objs(_egress_ipblock("{cidr: 10.244.1.0/24}"))
    mx = connectivity(objs, pod_network=[POD_NET])
    assert not mx.allowed("prod/web", "prod/db", 5432)
    assert len(mx.warnings) == 1
    assert "NetworkPolicy prod/out" in mx.warnings[0]
    assert "part of the pod network" in mx.warnings[0]


def test_calico_nets_deny_covers_pods_with_pod_network() -> None:
    deny_cluster = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: no-cluster}
spec:
  selector: app == 'client'
  types: [Egress]
  egress:
  - {action: Deny, destination: {nets: [10.0.0.0/8]}}
  - {action: Allow}
"""
    objs = _objs(deny_cluster)
    assert connectivity(objs).allowed("prod/client", "prod/web", 8080)
    assert not connectivity(objs, pod_network=[POD_NET]).allowed("prod/client", "prod/web", 8080)
