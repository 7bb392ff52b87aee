"""The desk's Kubernetes NetworkPolicies: deny by default, then only what Ray and DNS need.

These live in the tenant's namespace and Calico evaluates them in its `default` tier, after
the platform's isolation tier (:mod:`riskgrid.tenancy.calico`) has already denied anything
that crosses tenants. They narrow the desk's traffic further; they are not what keeps desks
apart, because whoever can write a NetworkPolicy in the namespace could widen them.
"""

from __future__ import annotations

from typing import Any

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.labels import tenant_labels
from riskgrid.tenancy.ray import PLATFORM_PORTS, RAY_PORTS

RAY_CLUSTER_SELECTOR = {"ray.io/cluster": c.RAY_CLUSTER_NAME}
RAY_HEAD_SELECTOR = {"ray.io/cluster": c.RAY_CLUSTER_NAME, "ray.io/node-type": "head"}


def _np(tenant: Tenant, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": tenant.namespace, "labels": tenant_labels(tenant)},
        "spec": spec,
    }


def _ray_ports() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in RAY_PORTS:
        entry: dict[str, Any] = {"protocol": "TCP", "port": p.port}
        if p.end_port is not None:
            entry["endPort"] = p.end_port
        out.append(entry)
    return out


def render_network_policies(tenant: Tenant) -> list[dict[str, Any]]:
    """Default deny, DNS, Ray-internal, platform → head, and the egress allow-list."""
    dns_peer = {
        "namespaceSelector": {"matchLabels": {c.NAMESPACE_NAME_LABEL: c.DNS_NAMESPACE}},
        "podSelector": {"matchLabels": dict(c.DNS_POD_LABELS)},
    }
    ray_peer = {"podSelector": {"matchLabels": dict(RAY_CLUSTER_SELECTOR)}}
    platform_peer = {
        "namespaceSelector": {"matchLabels": {c.NAMESPACE_NAME_LABEL: c.PLATFORM_NAMESPACE}},
        "podSelector": {"matchLabels": dict(c.PLATFORM_API_LABELS)},
    }
    by_name = {p.name: p.port for p in RAY_PORTS}
    policies = [
        _np(tenant, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _np(
            tenant,
            "allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [dns_peer],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    }
                ],
            },
        ),
        _np(
            tenant,
            "allow-ray-internal",
            {
                "podSelector": {"matchLabels": dict(RAY_CLUSTER_SELECTOR)},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [ray_peer], "ports": _ray_ports()}],
                "egress": [{"to": [ray_peer], "ports": _ray_ports()}],
            },
        ),
        _np(
            tenant,
            "allow-platform-to-ray-head",
            {
                "podSelector": {"matchLabels": dict(RAY_HEAD_SELECTOR)},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [platform_peer],
                        "ports": [{"protocol": "TCP", "port": by_name[n]} for n in PLATFORM_PORTS],
                    }
                ],
            },
        ),
    ]
    if tenant.spec.egress:
        rules = []
        for rule in tenant.spec.egress:
            ports = []
            for p in rule.ports:
                entry: dict[str, Any] = {"protocol": p.protocol, "port": p.port}
                if p.end_port is not None:
                    entry["endPort"] = p.end_port
                ports.append(entry)
            rules.append(
                {"to": [{"ipBlock": {"cidr": cidr}} for cidr in rule.cidrs], "ports": ports}
            )
        policies.append(
            _np(
                tenant,
                "allow-egress-allow-list",
                {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules},
            )
        )
    return policies
