"""Paths of the burst examples, shared by the burst tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAN = REPO / "examples" / "platform" / "capacity-plan.yaml"
DAY = REPO / "examples" / "days" / "eod.yaml"
JOB = REPO / "examples" / "jobs" / "small.yaml"


def small_plan(
    desks: dict[str, tuple[int, int | None, int | None]],
    *,
    preemption: dict | None = None,
    spot_pool: int = 64,
    spot_borrow: int = 0,
    weights: dict[str, float] | None = None,
):
    """A CapacityPlan with an ``onprem`` flavor (desk → nominal, borrowingLimit, lendingLimit)
    and a ``spot`` flavor whose ``spot_pool`` cores sit in the burst pool."""
    from riskgrid.spec.capacity import CapacityPlan, check_capacity_plan

    def quota(nominal, borrow, lend):
        q = {"nominal": nominal}
        if borrow is not None:
            q["borrowingLimit"] = borrow
        if lend is not None:
            q["lendingLimit"] = lend
        return q

    doc = {
        "apiVersion": "riskgrid.dev/v1alpha1",
        "kind": "CapacityPlan",
        "metadata": {"name": "test"},
        "spec": {
            "flavors": [
                {"name": "onprem", "kind": "reserved", "nodeLabels": {"c": "onprem"}},
                {
                    "name": "spot",
                    "kind": "spot",
                    "nodeLabels": {"c": "spot"},
                    "nodeTaints": [{"key": "burst", "value": "spot"}],
                },
            ],
            "priorityClasses": [
                {"name": "high", "value": 1000},
                {"name": "mid", "value": 500},
                {"name": "low", "value": 100},
            ],
            "preemption": preemption or {},
            "desks": [
                {
                    "name": name,
                    "namespace": name,
                    "weight": (weights or {}).get(name, 1),
                    "priorityClasses": ["high", "mid", "low"],
                    "quotas": {
                        "onprem": quota(*q),
                        "spot": {"nominal": 0, "borrowingLimit": spot_borrow},
                    },
                }
                for name, q in desks.items()
            ],
            "burstPool": {"quotas": {"spot": spot_pool}},
            "prices": {"perCoreHour": {"onprem": 0.01, "spot": 0.36}},
            "karpenter": {
                "nodeClass": {
                    "role": "node-role",
                    "subnetTags": {"t": "private"},
                    "securityGroupTags": {"t": "nodes"},
                },
                "nodePools": [
                    {
                        "name": "spot",
                        "instanceFamilies": ["c7i"],
                        "instanceSizes": ["2xlarge"],
                        "coresPerNode": 8,
                        "labels": {"c": "spot"},
                        "taints": [{"key": "burst", "value": "spot"}],
                        "consolidateAfter": "60s",
                    }
                ],
                "provisioning": {"minSeconds": 90, "maxSeconds": 90},
                "spotInterruptionsPerNodeHour": 0,
            },
        },
    }
    return check_capacity_plan(CapacityPlan.model_validate(doc), "test-plan")
