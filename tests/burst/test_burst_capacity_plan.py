"""CapacityPlan: schema, coherence errors (file, field, reason; exit 2), and what it renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from burst_helpers import PLAN

from riskgrid.cli.main import main
from riskgrid.policy.check import check_objects
from riskgrid.spec.capacity import load_capacity_plan
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.schemas import validate_objects


def test_schema_command_prints_capacity_plan_schema(capsys) -> None:
    assert main(["schema", "CapacityPlan"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"apiVersion", "kind", "metadata", "spec"} <= set(schema["properties"])
    assert "CapacityPlanSpec" in schema["$defs"]
    assert main(["schema", "CapacityDay"]) == 0


def _desk(doc, name):
    return next(d for d in doc["spec"]["desks"] if d["name"] == name)


def _edit_lending_above_nominal(doc):
    _desk(doc, "fx-options")["quotas"]["onprem"]["lendingLimit"] = 2000
    return "spec.desks[1].quotas.onprem.lendingLimit", "above the nominal quota 1280"


def _edit_borrow_missing_flavor(doc):
    doc["spec"]["burstPool"]["quotas"].pop("cloud-on-demand")
    # every desk still asks to borrow on-demand cores, which nobody in the cohort owns
    return "spec.desks[0].quotas.cloud-on-demand.borrowingLimit", "no other quota in flavor"


def _edit_unknown_flavor(doc):
    _desk(doc, "rates")["quotas"]["gpu"] = {"nominal": 8}
    return "spec.desks[0].quotas.gpu", "no flavor 'gpu'"


def _edit_nodepool_taints(doc):
    doc["spec"]["karpenter"]["nodePools"][0]["taints"][0]["value"] = "spotty"
    return "spec.karpenter.nodePools[0].taints", "matches no flavor"


def _edit_flavor_order(doc):
    f = doc["spec"]["flavors"]
    f[1], f[2] = f[2], f[1]
    return "spec.flavors", "reserved → spot → on-demand"


def _edit_priority_class(doc):
    _desk(doc, "eq-vol")["priorityClasses"].append("platinum")
    return "spec.desks[2].priorityClasses", "'platinum' is not one of"


@pytest.mark.parametrize(
    "edit",
    [
        _edit_lending_above_nominal,
        _edit_borrow_missing_flavor,
        _edit_unknown_flavor,
        _edit_nodepool_taints,
        _edit_flavor_order,
        _edit_priority_class,
    ],
    ids=lambda e: e.__name__.removeprefix("_edit_"),
)
def test_incoherent_plan_exits_2_naming_file_and_field(
    edit, plan_doc, write_yaml, tmp_path: Path, capsys
) -> None:
    field, reason = edit(plan_doc)
    path = write_yaml("plan.yaml", plan_doc)
    out = tmp_path / "out"
    code = main(["platform", "render", "-o", str(out), "--capacity", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: {field}: " in err, err
    assert reason in err
    assert not out.exists()  # nothing half-written


def test_schema_errors_name_the_field(plan_doc, write_yaml, capsys) -> None:
    _desk(plan_doc, "rates")["quotas"]["onprem"]["nominal"] = -5
    path = write_yaml("plan.yaml", plan_doc)
    assert main(["platform", "render", "-o", "x", "--capacity", str(path)]) == 2
    assert f"{path}: spec.desks[0].quotas.onprem.nominal: " in capsys.readouterr().err


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    return render_platform(capacity=load_capacity_plan(PLAN), gatekeeper=False)


def _kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_rendered_capacity_objects_are_schema_valid_and_policy_clean(rendered) -> None:
    kinds = {o["kind"] for o in rendered}
    assert {"ResourceFlavor", "ClusterQueue", "WorkloadPriorityClass", "NodePool"} <= kinds
    assert "EC2NodeClass" in kinds
    assert validate_objects(rendered) == []
    report = check_objects(rendered)
    assert [v.policy_id for v in report.violations] == []


def test_cluster_queues_follow_the_plan(rendered) -> None:
    queues = {o["metadata"]["name"]: o["spec"] for o in _kind(rendered, "ClusterQueue")}
    assert set(queues) == {"tenant-rates", "tenant-fx-options", "tenant-eq-vol", "burst-pool"}
    rates = queues["tenant-rates"]
    assert rates["cohortName"] == "riskgrid-desks"
    flavors = rates["resourceGroups"][0]["flavors"]
    assert [f["name"] for f in flavors] == ["onprem", "cloud-spot", "cloud-on-demand"]
    onprem = flavors[0]["resources"][0]
    assert onprem == {
        "name": "cpu",
        "nominalQuota": "1792",
        "borrowingLimit": "1024",
        "lendingLimit": "1024",
    }
    assert rates["preemption"] == {
        "reclaimWithinCohort": "Any",
        "borrowWithinCohort": {"policy": "LowerPriority", "maxPriorityThreshold": 500},
        "withinClusterQueue": "LowerPriority",
    }
    assert rates["fairSharing"] == {"weight": "2"}
    assert rates["namespaceSelector"] == {"matchLabels": {"riskgrid.dev/tenant": "rates"}}
    # The pool lends the cloud ceilings and admits nothing itself.
    pool = queues["burst-pool"]
    assert "namespaceSelector" not in pool
    spot = pool["resourceGroups"][0]["flavors"][1]["resources"][0]
    assert spot["nominalQuota"] == "40000" and spot["borrowingLimit"] == "0"


def test_priority_classes_in_order(rendered) -> None:
    values = {o["metadata"]["name"]: o["value"] for o in _kind(rendered, "WorkloadPriorityClass")}
    assert values["eod-regulatory"] > values["intraday"] > values["adhoc"]


def test_node_pools_match_flavors_and_never_evict_running_tasks(rendered) -> None:
    flavors = {o["metadata"]["name"]: o["spec"] for o in _kind(rendered, "ResourceFlavor")}
    pools = {o["metadata"]["name"]: o["spec"] for o in _kind(rendered, "NodePool")}
    spot = pools["burst-spot"]
    assert spot["limits"] == {"cpu": "40000"}  # the burst pool's spot quota: the ceiling
    assert pools["burst-on-demand"]["limits"] == {"cpu": "16000"}
    template = spot["template"]["spec"]
    assert template["taints"] == flavors["cloud-spot"]["nodeTaints"]
    req = {r["key"]: r["values"] for r in template["requirements"]}
    assert req["karpenter.sh/capacity-type"] == ["spot"]
    assert req["karpenter.k8s.aws/instance-family"] == ["c7i", "c6i", "m7i", "c7a"]
    assert req["kubernetes.io/arch"] == ["amd64"]
    # Flavor labels select the NodePool's nodes (restricted ones come from requirements).
    labels = spot["template"]["metadata"]["labels"]
    for key, value in flavors["cloud-spot"]["nodeLabels"].items():
        assert labels.get(key, (req.get(key) or [None])[0]) == value
    disruption = spot["disruption"]
    assert disruption["consolidationPolicy"] == "WhenEmpty"
    assert {"nodes": "0", "reasons": ["Drifted", "Underutilized"]} in disruption["budgets"]


def test_node_class_is_hardened(rendered) -> None:
    (nc,) = _kind(rendered, "EC2NodeClass")
    spec = nc["spec"]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert spec["associatePublicIPAddress"] is False
    assert spec["amiSelectorTerms"] == [{"alias": "bottlerocket@latest"}]
    assert all(m["ebs"]["encrypted"] is True for m in spec["blockDeviceMappings"])
    assert spec["role"] == "KarpenterNodeRole-riskgrid"
    assert spec["subnetSelectorTerms"][0]["tags"]["riskgrid.dev/tier"] == "private"


def test_policy_library_catches_a_weakened_render(rendered) -> None:
    """The guardrails judge what the renderer emits: weaken it and they fire."""
    objects = yaml.safe_load(yaml.safe_dump(rendered))
    for o in objects:
        if o["kind"] == "NodePool":
            o["spec"].pop("limits")
        if o["kind"] == "EC2NodeClass":
            o["spec"]["metadataOptions"]["httpPutResponseHopLimit"] = 2
            o["spec"]["blockDeviceMappings"][1]["ebs"]["encrypted"] = False
    found = {(v.policy_id, v.path) for v in check_objects(objects).violations}
    assert ("RG-CAP-001", "spec.limits.cpu") in found
    assert ("RG-CAP-002", "spec.metadataOptions.httpPutResponseHopLimit") in found
    assert ("RG-CAP-003", "spec.blockDeviceMappings[1].ebs.encrypted") in found


def test_cli_platform_render_with_capacity(tmp_path: Path, capsys) -> None:
    out = tmp_path / "platform"
    assert main(["platform", "render", "-o", str(out), "--capacity", str(PLAN)]) == 0
    text = "".join(p.read_text() for p in sorted(out.rglob("*.yaml")))
    assert "kind: NodePool" in text and "kind: WorkloadPriorityClass" in text


def test_gatekeeper_priority_constraint_carries_the_plans_grants() -> None:
    objects = render_platform(capacity=load_capacity_plan(PLAN), gatekeeper=True)
    (constraint,) = [
        o
        for o in objects
        if o["apiVersion"].startswith("constraints.gatekeeper.sh")
        and o["metadata"]["name"] == "rg-cap-005"
    ]
    params = constraint["spec"]["parameters"]
    assert params["allowed"] == ["intraday", "adhoc"]  # what every desk has
    assert params["namespaces"]["rates"] == ["eod-regulatory", "intraday", "adhoc"]
    assert params["namespaces"]["eq-vol"] == ["intraday", "adhoc"]
    assert validate_objects(objects) == []
