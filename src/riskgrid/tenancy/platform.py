"""Cluster-wide pieces every tenant relies on: ``riskgrid platform render``.

The platform namespace, the Calico isolation tier with its tenant-independent guard, the
Kueue ResourceFlavors (the cohort itself is the shared ``cohortName`` of the tenants'
ClusterQueues), and the Gatekeeper ConstraintTemplates and Constraints exported from the
policy library.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from riskgrid.spec.capacity import CapacityPlan
from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.calico import render_metadata_guard, render_tier
from riskgrid.tenancy.kueue import render_resource_flavors
from riskgrid.tenancy.labels import platform_labels, tenant_labels
from riskgrid.tenancy.namespace import restricted_namespace
from riskgrid.tenancy.ordering import ordered


def render_platform_namespace() -> dict[str, Any]:
    labels = {**platform_labels(), c.NAMESPACE_NAME_LABEL: c.PLATFORM_NAMESPACE}
    return restricted_namespace(c.PLATFORM_NAMESPACE, labels)


IMAGE_POLICY = "RG-IMG-001"


def _tenant_image_constraint(base: dict[str, Any], tenant: Tenant) -> dict[str, Any]:
    """The allowed-repositories constraint narrowed to one tenant's namespace and registries."""
    out = copy.deepcopy(base)
    out["metadata"]["name"] = f"{base['metadata']['name']}-{tenant.name}"
    out["metadata"].setdefault("labels", {}).update(tenant_labels(tenant))
    match = out["spec"]["match"]
    match["namespaceSelector"] = {"matchLabels": {c.TENANT_LABEL: tenant.name}}
    match.pop("excludedNamespaces", None)
    out["spec"]["parameters"]["repositories"] = list(tenant.spec.images.allowed)
    return out


def gatekeeper_objects(tenants: Sequence[Tenant] = ()) -> list[dict[str, Any]]:
    """ConstraintTemplates and Constraints from the policy library's Gatekeeper export.

    Each tenant may pull only from its own registries, so the allowed-repositories constraint
    is split: one per tenant (selecting its namespace by the owner label), and the library's
    default for every namespace that is not a tenant's.
    """
    from riskgrid.policy.export import constraint_kind
    from riskgrid.policy.export import gatekeeper_objects as export

    objects = export()
    if not tenants:
        return objects
    from riskgrid.policy.library import load_library

    kind = constraint_kind(load_library().get(IMAGE_POLICY))
    out: list[dict[str, Any]] = []
    for obj in objects:
        if obj.get("kind") != kind or obj.get("apiVersion", "").split("/")[0] != (
            "constraints.gatekeeper.sh"
        ):
            out.append(obj)
            continue
        default = copy.deepcopy(obj)
        default["spec"]["match"]["namespaceSelector"] = {
            "matchExpressions": [{"key": c.ISOLATION_LABEL, "operator": "DoesNotExist"}]
        }
        out.append(default)
        out.extend(_tenant_image_constraint(obj, t) for t in tenants)
    return out


def render_platform(
    tenants: Sequence[Tenant] = (),
    *,
    gatekeeper: bool = True,
    capacity: CapacityPlan | None = None,
) -> list[dict[str, Any]]:
    """The platform bundle; ``tenants`` shape the per-tenant image constraints.

    With a ``capacity`` plan, its flavors, priority classes, desk ClusterQueues and Karpenter
    NodePools/EC2NodeClass replace the default single CPU/GPU flavors.
    """
    objects: list[dict[str, Any]] = [
        render_platform_namespace(),
        render_tier(),
        render_metadata_guard(),
    ]
    if capacity is None:
        objects.extend(render_resource_flavors())
    else:
        from riskgrid.tenancy.capacity import render_kueue
        from riskgrid.tenancy.karpenter import render_karpenter

        objects.extend(render_kueue(capacity))
        objects.extend(render_karpenter(capacity))
    if gatekeeper:
        gk = gatekeeper_objects(tenants)
        if capacity is not None:
            _grant_priorities(gk, capacity)
        objects.extend(gk)
    return ordered(objects)


def _grant_priorities(objects: list[dict[str, Any]], plan: CapacityPlan) -> None:
    """The priority-class constraint enforces the plan's grants, not the library defaults."""
    from riskgrid.policy.export import constraint_kind
    from riskgrid.policy.library import load_library
    from riskgrid.tenancy.capacity import PRIORITY_POLICY, priority_grants

    kind = constraint_kind(load_library().get(PRIORITY_POLICY))
    for obj in objects:
        if obj.get("kind") == kind and obj["apiVersion"].startswith("constraints.gatekeeper.sh"):
            obj["spec"].setdefault("parameters", {}).update(priority_grants(plan))
