"""The Kueue-managed RayJob a burst plan sizes: one worker group per flavor of the plan.

Each worker group's replicas are the plan's cores in that flavor over the desk's worker size;
its pods select the flavor's nodes (``nodeSelector`` = the flavor's node labels, tolerations
for its taints — Kueue only assigns a pod set flavors its selector allows) and carry
``karpenter.sh/do-not-disrupt: "true"``, so consolidation never evicts a running risk task.
The job is created suspended with the desk's LocalQueue and the requested
WorkloadPriorityClass; Kueue unsuspends it when the quota is admitted.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from riskgrid.burst.planner import BurstPlan
from riskgrid.spec.capacity import CapacityPlan
from riskgrid.spec.tenant import Tenant, parse_quantity
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.capacity import PRIORITY_LABEL, QUEUE_LABEL
from riskgrid.tenancy.karpenter import DO_NOT_DISRUPT
from riskgrid.tenancy.ray import render_raycluster


def worker_groups(
    plan: CapacityPlan, burst: BurstPlan, tenant: Tenant, base: dict[str, Any]
) -> list[dict[str, Any]]:
    per_worker = math.ceil(parse_quantity(str(tenant.spec.ray.worker.cpu)))
    groups = []
    for flavor, cores in burst.by_flavor().items():
        f = plan.flavor(flavor)
        replicas = max(1, math.ceil(cores / per_worker))
        group = copy.deepcopy(base)
        group["groupName"] = f"workers-{flavor}"[:63]
        group["replicas"] = group["minReplicas"] = group["maxReplicas"] = replicas
        template = group["template"]
        template.setdefault("metadata", {}).setdefault("annotations", {})[DO_NOT_DISRUPT] = "true"
        template["spec"]["nodeSelector"] = dict(f.node_labels)
        if f.node_taints:
            template["spec"]["tolerations"] = [
                {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect}
                for t in f.node_taints
            ]
        groups.append(group)
    return groups


def render_burst_rayjob(
    plan: CapacityPlan,
    burst: BurstPlan,
    tenant: Tenant,
    *,
    name: str,
    priority_class: str,
    entrypoint: str = "python -m riskgrid.grid.worker",
) -> dict[str, Any]:
    """A suspended RayJob sized by ``burst``, queued in the desk's LocalQueue."""
    cluster = render_raycluster(tenant)
    spec = copy.deepcopy(cluster["spec"])
    base = spec["workerGroupSpecs"][0]
    spec["workerGroupSpecs"] = worker_groups(plan, burst, tenant, base)
    head = spec["headGroupSpec"]["template"]
    head.setdefault("metadata", {}).setdefault("annotations", {})[DO_NOT_DISRUPT] = "true"
    labels = {
        **cluster["metadata"]["labels"],
        QUEUE_LABEL: c.LOCAL_QUEUE,
        PRIORITY_LABEL: priority_class,
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "namespace": tenant.namespace, "labels": labels},
        "spec": {
            "entrypoint": entrypoint,
            "suspend": True,
            "shutdownAfterJobFinishes": True,
            "rayClusterSpec": spec,
        },
    }
