"""A synthetic cluster for scale tests and benchmarks: namespaces of Deployments whose pods
have real addresses, ReplicaSets between them, and NetworkPolicies with ipBlocks.

Each namespace ``ns-<i>`` owns the address block ``10.<i // 250>.<i % 250>.0/24``; its pods
take consecutive addresses from it. Every namespace gets a default deny, a same-namespace
allow, DNS egress and an ipBlock ingress rule from its neighbour's /24 (so addresses decide
verdicts), plus ``policies_per_ns - 4`` port-specific allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _ns_block(i: int) -> str:
    return f"10.{i // 250}.{i % 250}"


def synthetic_objects(
    namespaces: int = 200,
    deployments_per_ns: int = 5,
    replicas: int = 50,
    policies_per_ns: int = 10,
) -> Iterator[dict[str, Any]]:
    """Yields Namespaces, Deployments, ReplicaSets, Pods and NetworkPolicies."""
    image = "registry.example/risk/worker@sha256:" + "b" * 64
    for i in range(namespaces):
        ns = f"ns-{i}"
        yield {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"riskgrid.dev/tenant": f"t{i}"}},
        }
        pod_no = 0
        for d in range(deployments_per_ns):
            app = f"app{d}"
            spec = {
                "containers": [
                    {
                        "name": "w",
                        "image": image,
                        "ports": [{"containerPort": 8000 + d, "name": "http"}],
                        "securityContext": {"runAsNonRoot": True, "privileged": d == 0},
                    }
                ]
            }
            uid_d, uid_rs = f"{ns}-{app}-d", f"{ns}-{app}-rs"
            yield {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "namespace": ns, "uid": uid_d},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": app}},
                    "template": {"metadata": {"labels": {"app": app}}, "spec": spec},
                },
            }
            owner = {"apiVersion": "apps/v1", "controller": True}
            yield {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{app}-1",
                    "namespace": ns,
                    "uid": uid_rs,
                    "ownerReferences": [{**owner, "kind": "Deployment", "name": app, "uid": uid_d}],
                },
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": app}},
                    "template": {"metadata": {"labels": {"app": app}}, "spec": spec},
                },
            }
            for r in range(replicas):
                pod_no += 1
                ip = f"{_ns_block(i)}.{pod_no % 254 + 1}"
                yield {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{app}-1-{r}",
                        "namespace": ns,
                        "labels": {"app": app},
                        "ownerReferences": [
                            {**owner, "kind": "ReplicaSet", "name": f"{app}-1", "uid": uid_rs}
                        ],
                    },
                    "spec": spec,
                    "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
                }
        yield from _policies(i, ns, namespaces, policies_per_ns)


def _policies(i: int, ns: str, namespaces: int, count: int) -> Iterator[dict[str, Any]]:
    def np_(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }

    yield np_("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    yield np_(
        "same-ns",
        {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    )
    yield np_(
        "dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}],
                }
            ],
        },
    )
    neighbour = (i + 1) % namespaces
    yield np_(
        "from-neighbour-block",
        {
            "podSelector": {"matchLabels": {"app": "app0"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"ipBlock": {"cidr": f"{_ns_block(neighbour)}.0/24"}}],
                    "ports": [{"protocol": "TCP", "port": 8000}],
                }
            ],
        },
    )
    for k in range(max(0, count - 4)):
        yield np_(
            f"allow-{k}",
            {
                "podSelector": {"matchLabels": {"app": f"app{k % 5}"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"riskgrid.dev/tenant": f"t{i}"}}}
                        ],
                        "ports": [{"protocol": "TCP", "port": 9000 + k}],
                    }
                ],
            },
        )
