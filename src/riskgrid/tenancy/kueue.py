"""Kueue queues: the desk's ClusterQueue in the shared cohort, and its LocalQueue.

The ClusterQueue's nominal quota is the desk's quota; ``borrowingLimit`` is its burst, drawn
from idle quota of other desks in the cohort. The namespace's ResourceQuota is set to
quota + burst, so the two agree on the ceiling.
"""

from __future__ import annotations

from typing import Any

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy import quantities as q
from riskgrid.tenancy.labels import platform_labels, tenant_labels

KUEUE_API = "kueue.x-k8s.io/v1beta2"


def cluster_queue_name(tenant: Tenant) -> str:
    return f"tenant-{tenant.name}"


def render_cluster_queue(tenant: Tenant) -> dict[str, Any]:
    quotas, burst = tenant.spec.quotas, tenant.spec.burst
    cpu_resources = [
        {
            "name": "cpu",
            "nominalQuota": q.canonical(str(quotas.cpu), "cpu"),
            "borrowingLimit": q.canonical(str(burst.cpu), "cpu"),
        },
        {
            "name": "memory",
            "nominalQuota": q.canonical(str(quotas.memory), "memory"),
            "borrowingLimit": q.canonical(str(burst.memory), "memory"),
        },
    ]
    groups: list[dict[str, Any]] = [
        {
            "coveredResources": ["cpu", "memory"],
            "flavors": [{"name": c.KUEUE_CPU_FLAVOR, "resources": cpu_resources}],
        }
    ]
    if quotas.gpu is not None:
        groups.append(
            {
                "coveredResources": [c.GPU_RESOURCE],
                "flavors": [
                    {
                        "name": c.KUEUE_GPU_FLAVOR,
                        "resources": [
                            {
                                "name": c.GPU_RESOURCE,
                                "nominalQuota": q.canonical(str(quotas.gpu), "count"),
                                "borrowingLimit": q.canonical(str(burst.gpu), "count"),
                            }
                        ],
                    }
                ],
            }
        )
    return {
        "apiVersion": KUEUE_API,
        "kind": "ClusterQueue",
        "metadata": {"name": cluster_queue_name(tenant), "labels": tenant_labels(tenant)},
        "spec": {
            "cohortName": c.KUEUE_COHORT,
            # Only the desk's own namespace may submit to its queue.
            "namespaceSelector": {"matchLabels": {c.TENANT_LABEL: tenant.name}},
            "queueingStrategy": "BestEffortFIFO",
            "preemption": {
                "reclaimWithinCohort": "Any",
                "withinClusterQueue": "LowerPriority",
            },
            "resourceGroups": groups,
        },
    }


def render_local_queue(tenant: Tenant) -> dict[str, Any]:
    return {
        "apiVersion": KUEUE_API,
        "kind": "LocalQueue",
        "metadata": {
            "name": c.LOCAL_QUEUE,
            "namespace": tenant.namespace,
            "labels": tenant_labels(tenant),
        },
        "spec": {"clusterQueue": cluster_queue_name(tenant)},
    }


def render_resource_flavors() -> list[dict[str, Any]]:
    """Cluster-wide flavors: general CPU nodes and GPU nodes (tainted, tolerated by flavor)."""
    return [
        {
            "apiVersion": KUEUE_API,
            "kind": "ResourceFlavor",
            "metadata": {"name": c.KUEUE_CPU_FLAVOR, "labels": platform_labels()},
            "spec": {"nodeLabels": {"riskgrid.dev/node-pool": "cpu"}},
        },
        {
            "apiVersion": KUEUE_API,
            "kind": "ResourceFlavor",
            "metadata": {"name": c.KUEUE_GPU_FLAVOR, "labels": platform_labels()},
            "spec": {
                "nodeLabels": {"riskgrid.dev/node-pool": "gpu"},
                "nodeTaints": [{"key": c.GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}],
                "tolerations": [
                    {
                        "key": c.GPU_RESOURCE,
                        "operator": "Equal",
                        "value": "present",
                        "effect": "NoSchedule",
                    }
                ],
            },
        },
    ]
