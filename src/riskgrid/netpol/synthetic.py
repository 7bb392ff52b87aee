"""Synthetic multi-tenant clusters for benchmarks and scale tests (pure: returns objects).

Each tenant is shaped like a riskgrid desk: a namespace labelled with the tenant, a KubeRay
RayCluster (head + two worker groups), a pricer Deployment and a loader CronJob; Kubernetes
NetworkPolicies (default deny, DNS, Ray-internal, platform → head, egress allow-list); and, in
a Calico tier ahead of the default tier, a metadata guard plus one GlobalNetworkPolicy per
tenant that denies other tenants and caps egress at the allow-list and DNS.
"""

from __future__ import annotations

from typing import Any

TENANT_LABEL = "riskgrid.dev/tenant"
TIER = "isolation"
PLATFORM_NS = "riskgrid-system"
RAY_PORTS = ((6379, None), (8265, None), (10001, 10999), (8000, None))
METADATA = ["169.254.169.254/32", "fd00:ec2::254/128"]


def tenant_name(i: int) -> str:
    return f"desk-{i:03d}"


def allow_list_cidr(i: int) -> str:
    return f"10.{100 + i // 256}.{i % 256}.0/24"


def _container(name: str, ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": "registry.example/ray@sha256:" + "0" * 64,
        "ports": [{"name": n, "containerPort": p} for n, p in ports],
    }


def _template(labels: dict[str, str], container: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"containers": [container]}}


def _np(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def platform_objects(*, with_tier: bool = True) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PLATFORM_NS}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "riskgrid-api", "namespace": PLATFORM_NS},
            "spec": {
                "template": _template(
                    {"app.kubernetes.io/name": "riskgrid-api"},
                    _container("api", [("http", 8443)]),
                )
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "coredns",
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns"},
            },
            "spec": {
                "containers": [
                    {
                        "name": "coredns",
                        "image": "coredns",
                        "ports": [
                            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                        ],
                    }
                ]
            },
        },
    ]
    if with_tier:
        objs.append(
            {
                "apiVersion": "projectcalico.org/v3",
                "kind": "Tier",
                "metadata": {"name": TIER},
                "spec": {"order": 100, "defaultAction": "Deny"},
            }
        )
        objs.append(
            {
                "apiVersion": "projectcalico.org/v3",
                "kind": "GlobalNetworkPolicy",
                "metadata": {"name": f"{TIER}.deny-metadata"},
                "spec": {
                    "tier": TIER,
                    "order": 10,
                    "namespaceSelector": f"has({TENANT_LABEL})",
                    "types": ["Egress"],
                    # No trailing Pass: a Pass here would skip the tenant policies below.
                    "egress": [{"action": "Deny", "destination": {"nets": METADATA}}],
                },
            }
        )
    return objs


def tenant_objects(i: int, *, with_tier: bool = True) -> list[dict[str, Any]]:
    """The objects of tenant ``i`` (namespace ``desk-NNN``)."""
    name = tenant_name(i)
    ns = name
    cidr = allow_list_cidr(i)
    ray_ports = [
        {"protocol": "TCP", "port": p, **({"endPort": e} if e else {})} for p, e in RAY_PORTS
    ]
    ray_peer = {"podSelector": {"matchLabels": {"ray.io/cluster": "ray"}}}
    head = _container(
        "ray-head", [("gcs", 6379), ("dashboard", 8265), ("client", 10001), ("serve", 8000)]
    )
    worker = _container("ray-worker", [("metrics", 8080)])
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {TENANT_LABEL: name}},
        },
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {"name": "ray", "namespace": ns},
            "spec": {
                "headGroupSpec": {"template": _template({"app": "ray"}, head)},
                "workerGroupSpecs": [
                    {"groupName": "cpu", "template": _template({"app": "ray"}, worker)},
                    {"groupName": "highmem", "template": _template({"app": "ray"}, worker)},
                ],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "pricer", "namespace": ns},
            "spec": {"template": _template({"app": "pricer"}, _container("p", [("http", 8080)]))},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "loader", "namespace": ns},
            "spec": {
                "jobTemplate": {
                    "spec": {"template": _template({"app": "loader"}, _container("l", []))}
                }
            },
        },
        _np(ns, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _np(
            ns,
            "allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
        _np(
            ns,
            "allow-ray-internal",
            {
                "podSelector": {"matchLabels": {"ray.io/cluster": "ray"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [ray_peer], "ports": ray_ports}],
                "egress": [{"to": [ray_peer], "ports": ray_ports}],
            },
        ),
        _np(
            ns,
            "allow-pricer-to-ray-client",
            {
                "podSelector": {"matchLabels": {"ray.io/node-type": "head"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app": "pricer"}}},
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": PLATFORM_NS}
                                },
                                "podSelector": {
                                    "matchLabels": {"app.kubernetes.io/name": "riskgrid-api"}
                                },
                            },
                        ],
                        "ports": [{"port": "client"}, {"port": "dashboard"}],
                    }
                ],
            },
        ),
        _np(
            ns,
            "allow-pricer-egress",
            {
                "podSelector": {"matchLabels": {"app": "pricer"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": {"ray.io/node-type": "head"}}}],
                        "ports": [{"port": 10001}],
                    }
                ],
            },
        ),
        _np(
            ns,
            "allow-egress-allow-list",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": 443}]},
                ],
            },
        ),
    ]
    if with_tier:
        dns = {
            "namespaceSelector": "kubernetes.io/metadata.name == 'kube-system'",
            "selector": "k8s-app == 'kube-dns'",
            "ports": [53],
        }
        objs.append(
            {
                "apiVersion": "projectcalico.org/v3",
                "kind": "GlobalNetworkPolicy",
                "metadata": {"name": f"{TIER}.tenant-{name}"},
                "spec": {
                    "tier": TIER,
                    "order": 100,
                    "namespaceSelector": f"{TENANT_LABEL} == '{name}'",
                    "types": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "action": "Deny",
                            "source": {
                                "namespaceSelector": f"has({TENANT_LABEL}) && "
                                f"{TENANT_LABEL} != '{name}'"
                            },
                        },
                        {"action": "Pass"},
                    ],
                    "egress": [
                        {
                            "action": "Pass",
                            "destination": {"namespaceSelector": f"{TENANT_LABEL} == '{name}'"},
                        },
                        {"action": "Pass", "protocol": "UDP", "destination": dict(dns)},
                        {"action": "Pass", "protocol": "TCP", "destination": dict(dns)},
                        {
                            "action": "Pass",
                            "protocol": "TCP",
                            "destination": {"nets": [cidr], "ports": [443]},
                        },
                        {"action": "Deny"},
                    ],
                },
            }
        )
    return objs


def cluster_objects(n_tenants: int, *, with_tier: bool = True) -> list[dict[str, Any]]:
    """Platform plus ``n_tenants`` tenants."""
    objs = platform_objects(with_tier=with_tier)
    for i in range(n_tenants):
        objs.extend(tenant_objects(i, with_tier=with_tier))
    return objs


def tenants_and_allow_lists(n_tenants: int) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """The arguments of ``check_tenant_isolation`` for :func:`cluster_objects`."""
    tenants = {tenant_name(i): {tenant_name(i)} for i in range(n_tenants)}
    allow = {tenant_name(i): [f"{allow_list_cidr(i)}:443/TCP"] for i in range(n_tenants)}
    return tenants, allow
