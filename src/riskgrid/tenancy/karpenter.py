"""Karpenter v1 objects from a :class:`~riskgrid.spec.capacity.CapacityPlan`.

One NodePool per cloud flavor and one EC2NodeClass they all launch with.

* **The ceiling is the quota.** ``spec.limits.cpu`` is the cohort's quota in the flavor
  (:meth:`CapacityPlan.cohort_nominal`), so Karpenter can never launch more than Kueue can
  admit; the policy library denies a NodePool without limits (RG-CAP-001).
* **No running risk task is evicted.** Consolidation only removes *empty* nodes
  (``WhenEmpty``); disruption budgets allow no drift or underutilisation disruption at all and
  at most 10% of nodes (empty ones) at a time; risk pods carry
  ``karpenter.sh/do-not-disrupt: "true"`` (see :mod:`riskgrid.burst.workload`). Expiry (node
  rotation for patching) waits ``terminationGracePeriod`` — longer than any EOD run — for
  those pods to finish.
* **Hardened nodes.** Bottlerocket, IMDSv2 only with a hop limit of 1 (a pod cannot reach
  the node's credentials), encrypted EBS volumes, no public IP, subnets and security groups
  selected by tag, the node role by name (Karpenter makes the instance profile).
"""

from __future__ import annotations

from typing import Any

from riskgrid.spec.capacity import CAPACITY_TYPES, CapacityPlan, NodeClassSpec, NodePoolSpec
from riskgrid.tenancy.labels import platform_labels

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
#: Label domains Karpenter reserves: they are requirements, never template labels.
_RESTRICTED = ("karpenter.sh/", "karpenter.k8s.aws/", "kubernetes.io/")


def render_node_class(spec: NodeClassSpec, cluster_tag: str) -> dict[str, Any]:
    ebs: dict[str, Any] = {
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if spec.kms_key_id:
        ebs["kmsKeyID"] = spec.kms_key_id
    return {
        "apiVersion": NODECLASS_API,
        "kind": "EC2NodeClass",
        "metadata": {"name": spec.name, "labels": platform_labels()},
        "spec": {
            "amiSelectorTerms": [{"alias": spec.ami_alias}],
            "role": spec.role,
            "subnetSelectorTerms": [{"tags": dict(spec.subnet_tags)}],
            "securityGroupSelectorTerms": [{"tags": dict(spec.security_group_tags)}],
            "associatePublicIPAddress": False,
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpProtocolIPv6": "disabled",
                "httpPutResponseHopLimit": 1,
                "httpTokens": "required",
            },
            # Bottlerocket: /dev/xvda holds the OS, /dev/xvdb the container data.
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "rootVolume": True,
                    "ebs": {**ebs, "volumeSize": "4Gi"},
                },
                {
                    "deviceName": "/dev/xvdb",
                    "ebs": {**ebs, "volumeSize": f"{spec.data_volume_gib}Gi"},
                },
            ],
            "tags": {"riskgrid.dev/cluster": cluster_tag, "riskgrid.dev/managed-by": "karpenter"},
        },
    }


def render_node_pool(plan: CapacityPlan, pool: NodePoolSpec, flavor: str) -> dict[str, Any]:
    kind = plan.flavor(flavor).kind
    requirements = [
        {"key": CAPACITY_TYPE_LABEL, "operator": "In", "values": [CAPACITY_TYPES[kind]]},
        {
            "key": "karpenter.k8s.aws/instance-family",
            "operator": "In",
            "values": list(pool.instance_families),
        },
        {
            "key": "karpenter.k8s.aws/instance-size",
            "operator": "In",
            "values": list(pool.instance_sizes),
        },
        {"key": "kubernetes.io/arch", "operator": "In", "values": [pool.architecture]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    labels = {k: v for k, v in pool.labels.items() if not k.startswith(_RESTRICTED)}
    return {
        "apiVersion": NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {
            "name": pool.name,
            "labels": {**platform_labels(), "riskgrid.dev/flavor": flavor},
        },
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": plan.spec.karpenter.node_class.name,
                    },
                    "requirements": requirements,
                    "taints": [t.model_dump(by_alias=True) for t in pool.taints],
                    "expireAfter": pool.expire_after,
                    "terminationGracePeriod": pool.termination_grace_period,
                },
            },
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": pool.consolidate_after,
                "budgets": [
                    {"nodes": "0", "reasons": ["Drifted", "Underutilized"]},
                    {"nodes": "10%", "reasons": ["Empty"]},
                ],
            },
            # The burst ceiling: the cohort's quota in this flavor.
            "limits": {"cpu": str(plan.cohort_nominal(flavor))},
        },
    }


def render_karpenter(plan: CapacityPlan) -> list[dict[str, Any]]:
    out = [render_node_class(plan.spec.karpenter.node_class, plan.metadata.name)]
    for f in plan.spec.flavors:
        if f.kind == "reserved":
            continue
        pool = plan.node_pool_for(f.name)
        if pool is not None:
            out.append(render_node_pool(plan, pool, f.name))
    return out
