"""Kueue objects from a :class:`~riskgrid.spec.capacity.CapacityPlan`.

ResourceFlavors (one per flavor, with its node labels, taints and the tolerations Kueue injects
into admitted pods), WorkloadPriorityClasses, one ClusterQueue per desk in the plan's cohort
and the burst-pool ClusterQueue that holds the cloud ceilings. Every ClusterQueue lists every
flavor in the plan's order (reserved → spot → on-demand): Kueue tries flavors in list order,
so owned capacity is used first and on-demand last.
"""

from __future__ import annotations

from typing import Any

from riskgrid.spec.capacity import CapacityPlan, Desk, Flavor, FlavorQuota
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.kueue import KUEUE_API
from riskgrid.tenancy.labels import platform_labels

#: The label Kueue reads a job's WorkloadPriorityClass from.
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def desk_queue_name(desk: Desk) -> str:
    return f"tenant-{desk.name}"


def render_flavor(flavor: Flavor) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeLabels": dict(flavor.node_labels)}
    if flavor.node_taints:
        taints = [t.model_dump(by_alias=True) for t in flavor.node_taints]
        spec["nodeTaints"] = taints
        spec["tolerations"] = [
            {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
            for t in taints
        ]
    return {
        "apiVersion": KUEUE_API,
        "kind": "ResourceFlavor",
        "metadata": {
            "name": flavor.name,
            "labels": {**platform_labels(), "riskgrid.dev/flavor-kind": flavor.kind},
        },
        "spec": spec,
    }


def render_priority_classes(plan: CapacityPlan) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": KUEUE_API,
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": p.name, "labels": platform_labels()},
            "value": p.value,
            "description": p.description or p.name,
        }
        for p in plan.spec.priority_classes
    ]


def _resource(q: FlavorQuota | None) -> dict[str, Any]:
    q = q or FlavorQuota(nominal=0, borrowing_limit=0)
    out: dict[str, Any] = {"name": "cpu", "nominalQuota": str(q.nominal)}
    if q.borrowing_limit is not None:
        out["borrowingLimit"] = str(q.borrowing_limit)
    if q.lending_limit is not None:
        out["lendingLimit"] = str(q.lending_limit)
    return out


def _preemption(plan: CapacityPlan) -> dict[str, Any]:
    p = plan.spec.preemption
    borrow: dict[str, Any] = {"policy": p.borrow_within_cohort.policy}
    if p.borrow_within_cohort.max_priority_threshold is not None:
        borrow["maxPriorityThreshold"] = p.borrow_within_cohort.max_priority_threshold
    return {
        "reclaimWithinCohort": p.reclaim_within_cohort,
        "borrowWithinCohort": borrow,
        "withinClusterQueue": p.within_cluster_queue,
    }


def _cluster_queue(
    plan: CapacityPlan,
    name: str,
    quotas: dict[str, FlavorQuota],
    *,
    namespace: str | None,
    weight: float,
    owner: str,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "cohortName": plan.spec.cohort,
        "queueingStrategy": "BestEffortFIFO",
        # Kueue's defaults, written out: take the first flavor where the workload fits, even
        # if that means borrowing, rather than preempting to stay in an earlier flavor.
        "flavorFungibility": {"whenCanBorrow": "MayStopSearch", "whenCanPreempt": "TryNextFlavor"},
        "preemption": _preemption(plan),
        "fairSharing": {"weight": str(weight) if weight % 1 else str(int(weight))},
        "resourceGroups": [
            {
                "coveredResources": ["cpu"],
                "flavors": [
                    {"name": f, "resources": [_resource(quotas.get(f))]} for f in plan.flavor_names
                ],
            }
        ],
    }
    if namespace is not None:
        # Only the desk's own namespace may submit to its queue.
        spec["namespaceSelector"] = {"matchLabels": {c.TENANT_LABEL: owner}}
    # No namespaceSelector at all: no namespace matches, so the pool admits nothing itself.
    labels = {**platform_labels(), "riskgrid.dev/desk": owner}
    return {
        "apiVersion": KUEUE_API,
        "kind": "ClusterQueue",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def render_cluster_queues(plan: CapacityPlan) -> list[dict[str, Any]]:
    out = [
        _cluster_queue(
            plan,
            desk_queue_name(d),
            d.quotas,
            namespace=d.namespace,
            weight=d.weight,
            owner=d.name,
        )
        for d in plan.spec.desks
    ]
    pool = plan.spec.burst_pool
    if pool is not None:
        quotas = {f: FlavorQuota(nominal=n, borrowing_limit=0) for f, n in pool.quotas.items()}
        out.append(
            _cluster_queue(plan, pool.name, quotas, namespace=None, weight=1.0, owner=pool.name)
        )
    return out


PRIORITY_POLICY = "RG-CAP-005"


def priority_grants(plan: CapacityPlan) -> dict[str, Any]:
    """RG-CAP-005's parameters from the plan: classes every desk may use, and each desk's own."""
    desks = plan.spec.desks
    common = set(desks[0].priority_classes).intersection(*(d.priority_classes for d in desks))
    return {
        "allowed": [p.name for p in plan.spec.priority_classes if p.name in common],
        "namespaces": {d.namespace: list(d.priority_classes) for d in desks},
    }


def render_kueue(plan: CapacityPlan) -> list[dict[str, Any]]:
    """Flavors, priority classes and ClusterQueues of the plan (LocalQueues are per tenant)."""
    return [
        *(render_flavor(f) for f in plan.spec.flavors),
        *render_priority_classes(plan),
        *render_cluster_queues(plan),
    ]
