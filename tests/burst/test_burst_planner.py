"""The burst planner: finish-time arithmetic, flavor order, node counts, prices, the RayJob it
sizes, and `riskgrid burst plan` (calibration shown, bad input → exit 2)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from burst_helpers import JOB, PLAN

from riskgrid.burst.planner import finish_time, plan_burst
from riskgrid.burst.sizing import job_size
from riskgrid.burst.workload import render_burst_rayjob
from riskgrid.cli.main import main
from riskgrid.grid.planner import CostModel, estimate_seconds, plan
from riskgrid.policy.check import check_objects
from riskgrid.policy.config import PolicyConfig
from riskgrid.spec.capacity import load_capacity_plan
from riskgrid.spec.tenant import load_tenant
from riskgrid.tenancy.schemas import validate_objects

REPO = PLAN.parents[2]


def test_finish_time_solves_the_piecewise_linear_work_equation() -> None:
    # 100 cores from 0, 300 more from 120 s: 100·t + 300·(t − 120) = 100,000 → t = 340.
    assert finish_time(100_000, [(100, 0.0), (300, 120.0)]) == pytest.approx(340.0)
    # Done before the second share starts: 100 cores alone.
    assert finish_time(10_000, [(100, 0.0), (300, 120.0)]) == pytest.approx(100.0)
    assert finish_time(1.0, []) == math.inf


def test_size_comes_from_the_grid_planners_cost_model() -> None:
    cost = CostModel(per_element=1e-4, per_position=2e-3)
    size = job_size(1000, 500, cost, greeks=True, task_seconds=10)
    assert size.core_seconds == pytest.approx(sum(estimate_seconds(1000, 500, cost)))
    assert size.core_seconds == pytest.approx(plan(1000, 500, cost=cost).estimated_seconds)
    assert size.tasks == math.ceil(size.core_seconds / 10)


@pytest.fixture(scope="module")
def capacity():
    return load_capacity_plan(PLAN)


def test_small_job_fits_the_nominal_quota(capacity) -> None:
    bp = plan_burst(capacity, "rates", 3600 * 100, start=0, deadline=7200, plan_source="p")
    assert [(s.flavor, s.role) for s in bp.shares] == [("onprem", "nominal")]
    assert bp.deadline_met and bp.shares[0].cores == 50  # 360,000 core-s in 7,200 s
    assert bp.cost == pytest.approx(50 * 2 * 0.018)


def test_big_job_borrows_then_bursts_in_flavor_order(capacity) -> None:
    work = 20_000 * 3600.0  # 20,000 core-hours in 2 hours: needs ~10,000 cores
    bp = plan_burst(capacity, "rates", work, start=0, deadline=7200, plan_source="p")
    roles = [(s.flavor, s.role) for s in bp.shares]
    assert roles == [("onprem", "nominal"), ("onprem", "borrowed"), ("cloud-spot", "burst")]
    nominal, borrowed, spot = bp.shares
    assert nominal.cores == 1792 and borrowed.cores == 1024  # rates' borrowingLimit
    assert spot.nodes == math.ceil(spot.cores / 32) and spot.cores % 32 == 0
    assert spot.delay == 120  # the NodePool's worst-case provisioning latency
    assert bp.deadline_met and bp.finish <= 7200
    # The finish time is the solution of the work equation for the chosen shares.
    shares = [(s.cores, s.delay) for s in bp.shares]
    assert bp.finish == pytest.approx(finish_time(work, shares))


def test_impossible_deadline_is_reported_missed(capacity) -> None:
    work = 1e9  # far beyond every ceiling
    bp = plan_burst(capacity, "eq-vol", work, start=0, deadline=3600, plan_source="p")
    assert not bp.deadline_met
    assert [s.flavor for s in bp.shares] == ["onprem", "onprem", "cloud-spot", "cloud-on-demand"]
    assert bp.shares[-1].cores == 4000  # eq-vol's on-demand borrowingLimit


def test_rayjob_is_sized_by_the_plan_and_hardened(capacity) -> None:
    tenant = load_tenant(REPO / "examples" / "tenants" / "rates.yaml")
    work = 20_000 * 3600.0
    bp = plan_burst(capacity, "rates", work, start=0, deadline=7200, plan_source="p")
    job = render_burst_rayjob(capacity, bp, tenant, name="eod-var", priority_class="intraday")
    groups = {g["groupName"]: g for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]}
    per_worker = 8  # examples/tenants/rates.yaml: ray.worker.cpu
    for flavor, cores in bp.by_flavor().items():
        g = groups[f"workers-{flavor}"]
        assert g["replicas"] == g["maxReplicas"] == math.ceil(cores / per_worker)
        pod = g["template"]
        assert pod["spec"]["nodeSelector"] == capacity.flavor(flavor).node_labels
        assert pod["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    spot_pod = groups["workers-cloud-spot"]["template"]["spec"]
    assert spot_pod["tolerations"][0]["value"] == "spot"
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "ray"
    # The cluster spec is a valid RayCluster spec, and the whole job passes the library.
    cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "x", "namespace": tenant.namespace},
        "spec": job["spec"]["rayClusterSpec"],
    }
    assert validate_objects([cluster]) == []
    config = PolicyConfig.model_validate(
        {
            "apiVersion": "riskgrid.dev/v1alpha1",
            "kind": "PolicyConfig",
            "metadata": {"name": "t"},
            "spec": {"parameters": {"RG-IMG-001": {"repositories": tenant.spec.images.allowed}}},
        }
    )
    assert [v.policy_id for v in check_objects([job], config=config).violations] == []
    job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] = "eod-regulatory"
    found = [v.policy_id for v in check_objects([job], config=config).violations]
    assert found == ["RG-CAP-005"]  # not granted by the library's defaults


def test_cli_plan_shows_calibration_and_plan(capsys) -> None:
    args = ["burst", "plan", str(JOB), "--deadline", "21:00", "--now", "19:00"]
    assert main([*args, "--platform", str(PLAN), "--json", "--copies", "1000000"]) == 0
    out = json.loads(capsys.readouterr().out)
    cal = out["calibration"]
    assert cal["measured"] is True and cal["perElementSeconds"] > 0
    assert out["size"]["coreSeconds"] > 0
    p = out["plan"]
    assert p["desk"] == "rates" and p["deadline"] == "21:00:00"
    assert p["coreSeconds"] == pytest.approx(out["size"]["coreSeconds"] * 1_000_000, rel=1e-3)
    assert main([*args, "--platform", str(PLAN)]) == 0
    text = capsys.readouterr().out
    assert "calibration:" in text and "deadline met" in text


def test_cli_plan_bad_input_exits_2(tmp_path: Path, plan_doc, write_yaml, capsys) -> None:
    base = ["burst", "plan", str(JOB), "--platform", str(PLAN)]
    assert main([*base, "--deadline", "18:00", "--now", "19:00"]) == 2
    assert f"{JOB}: --deadline: 18:00 is already past" in capsys.readouterr().err
    assert main([*base, "--deadline", "25:99", "--now", "19:00"]) == 2
    assert f"{JOB}: --deadline: " in capsys.readouterr().err
    plan_doc["spec"]["prices"]["perCoreHour"].pop("cloud-spot")
    priceless = write_yaml("plan.yaml", plan_doc)
    args = ["burst", "plan", str(JOB), "--platform", str(priceless), "--copies", "10000000000"]
    assert main([*args, "--deadline", "19:10", "--now", "19:00"]) == 2
    err = capsys.readouterr().err
    assert f"{priceless}: spec.prices.perCoreHour.cloud-spot: no price for flavor" in err
    # The same plan is fine for a job that never leaves on-premises capacity.
    assert main([*args[:-2], "--deadline", "21:00", "--now", "19:00"]) == 0
    assert "cloud-spot" not in capsys.readouterr().out
