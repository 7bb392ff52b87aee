"""Tenant isolation assertions: what they catch, and what they print."""

from __future__ import annotations

from typing import Any

import pytest

from riskgrid.netpol.analysis import connectivity
from riskgrid.netpol.assertions import EgressAllowance, check_tenant_isolation, parse_allowances
from riskgrid.netpol.synthetic import (
    TIER,
    allow_list_cidr,
    cluster_objects,
    tenant_name,
    tenants_and_allow_lists,
)

A, B = tenant_name(0), tenant_name(1)


def _allow_all(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-everything", "namespace": ns},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{}],
            "egress": [{}],
        },
    }


def _check(objs: list[dict[str, Any]], n: int = 3) -> list[Any]:
    tenants, allow = tenants_and_allow_lists(n)
    return check_tenant_isolation(connectivity(objs), tenants, allow)


def test_rendered_like_tenants_are_isolated() -> None:
    assert _check(cluster_objects(3)) == []


def test_tier_keeps_tenants_apart_despite_allow_all_policies() -> None:
    objs = [*cluster_objects(3), _allow_all(A), _allow_all(B)]
    findings = _check(objs)
    assert not [f for f in findings if f.kind in ("cross-tenant", "metadata")]
    # The tier caps egress too: nothing beyond the allow-list and DNS leaves either tenant.
    assert not [f for f in findings if f.kind == "egress"]


def test_without_tier_allow_all_opens_cross_tenant_paths() -> None:
    objs = [*cluster_objects(3, with_tier=False), _allow_all(A), _allow_all(B)]
    findings = _check(objs)
    cross = [f for f in findings if f.kind == "cross-tenant"]
    assert {(f.source.split("/")[0], f.destination.split("/")[0]) for f in cross} == {
        (A, B),
        (B, A),
    }
    f = cross[0]
    assert f.ports == "all"
    assert any("allow-everything" in p and "tier default" in p for p in f.policies)
    text = str(f)
    assert "cross-tenant" in text and "let through by" in text and "egress: Allow" in text
    metadata = [f for f in findings if f.kind == "metadata"]
    assert {f.tenant for f in metadata} == {A, B}
    assert "169.254.169.254/32" in metadata[0].destination


def test_egress_outside_allow_list_is_reported_with_ports() -> None:
    wider = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "wider", "namespace": A},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.100.0.0/16"}}]}],
        },
    }
    findings = _check([*cluster_objects(3, with_tier=False), wider])
    egress = [f for f in findings if f.kind == "egress" and f.tenant == A]
    assert egress, findings
    # The allow-list /24 on 443 stays allowed; everything else in the /16 is a finding.
    assert all(allow_list_cidr(0) not in f.destination or f.ports != "TCP:443" for f in egress)
    assert any("10.100.0.0/16" in f.destination or "10.100.1.0" in f.destination for f in egress)
    assert all("wider" in " ".join(f.policies) for f in egress)


def test_dns_beyond_port_53_is_reported() -> None:
    objs = [*cluster_objects(2, with_tier=False)]
    objs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "dns-any-port", "namespace": A},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"namespaceSelector": {}, "podSelector": {
                        "matchLabels": {"k8s-app": "kube-dns"}}}]}
                ],
            },
        }
    )  # fmt: skip
    findings = [f for f in _check(objs, 2) if f.kind == "egress"]
    assert findings and all(f.destination == "kube-system/coredns" for f in findings)
    assert all("TCP:53" not in f.ports.split("; ") for f in findings)


def test_tier_without_guard_against_metadata_is_caught() -> None:
    objs = [o for o in cluster_objects(2) if o["metadata"]["name"] != f"{TIER}.deny-metadata"]
    # The per-tenant tier policy still denies what is not allowed, so remove its catch-all too.
    for o in objs:
        if o["kind"] == "GlobalNetworkPolicy":
            o["spec"]["egress"] = [{"action": "Pass"}]
    objs.append(_allow_all(A))
    findings = _check(objs, 2)
    md = [f for f in findings if f.kind == "metadata"]
    assert [f.tenant for f in md] == [A] * len(md) and md
    assert any("tenant-" + A in p for p in md[0].policies)


def test_parse_allowances_forms() -> None:
    got = parse_allowances(
        [
            "10.0.0.0/8",
            "10.1.0.0/16:443",
            "10.2.0.0/16:8000-8080/udp",
            "fd00::/8:53/UDP",
            {"cidrs": ["1.2.3.0/24"], "ports": [443, {"port": 5000, "endPort": 5010}]},
            EgressAllowance("5.6.7.0/24", "SCTP", 9, 9),
        ]
    )
    assert got == [
        EgressAllowance("10.0.0.0/8", None, 1, 65535),
        EgressAllowance("10.1.0.0/16", None, 443, 443),
        EgressAllowance("10.2.0.0/16", "UDP", 8000, 8080),
        EgressAllowance("fd00::/8", "UDP", 53, 53),
        EgressAllowance("1.2.3.0/24", "TCP", 443, 443),
        EgressAllowance("1.2.3.0/24", "TCP", 5000, 5010),
        EgressAllowance("5.6.7.0/24", "SCTP", 9, 9),
    ]
    with pytest.raises(ValueError, match="expected CIDR"):
        parse_allowances(["10.0.0.0:443"])
    with pytest.raises(ValueError, match="not a valid CIDR"):
        parse_allowances(["10.0.0.999/8"])


def test_namespace_in_two_tenants_is_refused() -> None:
    mx = connectivity(cluster_objects(1))
    with pytest.raises(ValueError, match="belongs to both"):
        check_tenant_isolation(mx, {"x": {A}, "y": {A}}, {})


def test_scale_fifty_tenants_isolated() -> None:
    tenants, allow = tenants_and_allow_lists(50)
    mx = connectivity(cluster_objects(50))
    assert len(mx.pods) == 50 * 5 + 2
    assert check_tenant_isolation(mx, tenants, allow) == []
