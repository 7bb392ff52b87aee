"""Namespaced Roles and RoleBindings for the desk's OIDC groups — least privilege.

No role can write ResourceQuotas, LimitRanges, NetworkPolicies, RBAC objects, Secrets or the
Namespace itself (and therefore its labels, which the Calico tier and Kueue select on): those
belong to the platform and change only through a reviewed ``Tenant`` spec. Nobody gets
``pods/exec``, ``escalate``, ``bind``, ``impersonate`` or a wildcard.
"""

from __future__ import annotations

import copy
from typing import Any

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy.labels import tenant_labels

RBAC_API = "rbac.authorization.k8s.io/v1"
READ = ["get", "list", "watch"]
WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": list(verbs)}


#: What every role may read: the workloads and the guardrails (read-only, so a desk can see
#: why it was throttled or blocked).
_VIEW_RULES = [
    _rule([""], ["pods", "pods/log", "services", "configmaps", "events"], READ),
    _rule([""], ["resourcequotas", "limitranges"], READ),
    _rule(["networking.k8s.io"], ["networkpolicies"], READ),
    _rule(["ray.io"], ["rayclusters", "rayjobs"], READ),
    _rule(["kueue.x-k8s.io"], ["localqueues", "workloads"], READ),
    _rule(["batch"], ["jobs"], READ),
]

ROLES: dict[str, list[dict[str, Any]]] = {
    "riskgrid-viewer": _VIEW_RULES,
    "riskgrid-developer": [
        *_VIEW_RULES,
        _rule(["ray.io"], ["rayjobs"], WRITE),
        _rule([""], ["configmaps"], WRITE),
    ],
    "riskgrid-admin": [
        *_VIEW_RULES,
        _rule(["ray.io"], ["rayjobs"], WRITE),
        # Admins may restart the desk's cluster (delete pods, suspend), not redefine it.
        _rule(["ray.io"], ["rayclusters"], ["get", "list", "watch", "patch"]),
        _rule([""], ["configmaps"], WRITE),
        _rule([""], ["pods"], ["delete"]),
        _rule(["batch"], ["jobs"], WRITE),
    ],
}

#: Which Tenant group list binds to which role. Owners are accountable, so they administer.
BINDINGS = (
    ("owners", "riskgrid-admin"),
    ("admins", "riskgrid-admin"),
    ("developers", "riskgrid-developer"),
    ("viewers", "riskgrid-viewer"),
)


def render_rbac(tenant: Tenant) -> list[dict[str, Any]]:
    labels = tenant_labels(tenant)
    ns = tenant.namespace
    out: list[dict[str, Any]] = [
        {
            "apiVersion": RBAC_API,
            "kind": "Role",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "rules": copy.deepcopy(rules),
        }
        for name, rules in ROLES.items()
    ]
    for field, role in BINDINGS:
        groups: list[str] = getattr(tenant.spec.groups, field)
        if not groups:
            continue
        out.append(
            {
                "apiVersion": RBAC_API,
                "kind": "RoleBinding",
                "metadata": {"name": f"{role}-{field}", "namespace": ns, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}
                    for g in groups
                ],
            }
        )
    return out
