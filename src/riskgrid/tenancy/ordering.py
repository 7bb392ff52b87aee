"""A single, deterministic order for objects: the order in which they can be applied.

Namespaces and cluster-scoped prerequisites first, CRD-backed objects after what they refer
to (Tier before its policies, ResourceFlavors before ClusterQueues before LocalQueues,
ConstraintTemplates before their Constraints), workloads last.
"""

from __future__ import annotations

from typing import Any

_RANK = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "Tier": 2,
    "ConstraintTemplate": 3,
    "ResourceFlavor": 4,
    "WorkloadPriorityClass": 4,
    "EC2NodeClass": 4,
    "NodePool": 5,
    "ClusterQueue": 5,
    "ClusterRole": 6,
    "ClusterRoleBinding": 7,
    "ResourceQuota": 10,
    "LimitRange": 11,
    "ServiceAccount": 12,
    "Role": 13,
    "RoleBinding": 14,
    "GlobalNetworkPolicy": 20,
    "NetworkPolicy": 21,
    "LocalQueue": 30,
    "Secret": 31,
    "ConfigMap": 32,
    "RayCluster": 40,
    "RayJob": 41,
}
#: Gatekeeper constraints have one kind per template; they come after every template.
_CONSTRAINT_RANK = 8
_UNKNOWN_RANK = 50


def rank(obj: dict[str, Any]) -> int:
    kind = obj.get("kind", "")
    if kind in _RANK:
        return _RANK[kind]
    if str(obj.get("apiVersion", "")).startswith("constraints.gatekeeper.sh/"):
        return _CONSTRAINT_RANK
    return _UNKNOWN_RANK


def sort_key(obj: dict[str, Any]) -> tuple[int, str, str, str]:
    meta = obj.get("metadata", {})
    return (rank(obj), str(obj.get("kind", "")), meta.get("namespace", ""), meta.get("name", ""))


def ordered(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=sort_key)


def object_ref(obj: dict[str, Any]) -> str:
    """``Kind/namespace/name`` (or ``Kind/name``), how reports and errors name an object."""
    meta = obj.get("metadata", {}) or {}
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{obj.get('kind', '?')}/{ns}/{name}" if ns else f"{obj.get('kind', '?')}/{name}"
