"""`riskgrid platform render`: namespace, tier, flavors and the Gatekeeper export, all valid."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from riskgrid.cli.main import main
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.schemas import validate_objects
from riskgrid.tenancy.verify import verify


def test_platform_bundle(example_tenants) -> None:
    objects = render_platform(example_tenants)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    ns = by_name[("Namespace", c.PLATFORM_NAMESPACE)]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # owned by the platform, but not a tenant for network isolation
    assert ns["metadata"]["labels"][c.TENANT_LABEL] == c.PLATFORM_TENANT
    assert c.ISOLATION_LABEL not in ns["metadata"]["labels"]
    tier = by_name[("Tier", c.TIER_NAME)]
    assert tier["spec"] == {"order": c.TIER_ORDER, "defaultAction": "Deny"}
    assert c.TIER_ORDER < 1_000_000  # before Calico's default tier
    guard = by_name[("GlobalNetworkPolicy", f"{c.TIER_NAME}.deny-metadata")]
    assert guard["spec"]["egress"] == [
        {"action": "Deny", "destination": {"nets": ["169.254.169.254/32", "fd00:ec2::254/128"]}}
    ]
    assert {("ResourceFlavor", c.KUEUE_CPU_FLAVOR), ("ResourceFlavor", c.KUEUE_GPU_FLAVOR)} <= set(
        by_name
    )
    templates = [o for o in objects if o["kind"] == "ConstraintTemplate"]
    constraints = [o for o in objects if o["apiVersion"].startswith("constraints.gatekeeper.sh/")]
    assert templates and len(constraints) >= len(templates)
    # templates are ordered before their constraints
    kinds = [o["kind"] for o in objects]
    assert max(i for i, k in enumerate(kinds) if k == "ConstraintTemplate") < min(
        i for i, o in enumerate(objects) if o["apiVersion"].startswith("constraints.")
    )


def test_image_constraint_is_per_tenant(example_tenants) -> None:
    objects = render_platform(example_tenants)
    img = {
        o["metadata"]["name"]: o for o in objects if o["metadata"]["name"].startswith("rg-img-001")
    }
    assert set(img) == {
        "rg-img-001",
        "rg-img-001-eq-vol",
        "rg-img-001-fx-options",
        "rg-img-001-rates",
    }
    rates = img["rg-img-001-rates"]["spec"]
    assert rates["match"]["namespaceSelector"] == {"matchLabels": {c.TENANT_LABEL: "rates"}}
    assert rates["parameters"]["repositories"] == [
        "111122223333.dkr.ecr.eu-west-2.amazonaws.com/riskgrid/gpu"
    ]
    default = img["rg-img-001"]["spec"]["match"]["namespaceSelector"]
    assert default == {"matchExpressions": [{"key": c.ISOLATION_LABEL, "operator": "DoesNotExist"}]}


def test_gatekeeper_objects_validate_and_pass_policy(example_tenants) -> None:
    objects = render_platform(example_tenants)
    assert validate_objects(objects) == []
    report = verify(example_tenants, objects, checks=("schema", "policy"))
    assert report.problems == []
    # a constraint whose parameters break its template's schema is caught
    bad = copy.deepcopy(next(o for o in objects if o["metadata"]["name"] == "rg-img-001-rates"))
    bad["spec"]["parameters"]["repositories"] = "not-a-list"
    tmpl = [o for o in objects if o["kind"] == "ConstraintTemplate"]
    problems = validate_objects([*tmpl, bad])
    assert [p.path for p in problems] == ["spec.parameters.repositories"]
    assert validate_objects([bad])[0].message.startswith("no ConstraintTemplate defines kind")


def test_cli_platform_render(example_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "platform"
    assert (
        main(["platform", "render", *map(str, example_files), "-o", str(out), "--layout", "kind"])
        == 0
    )
    names = sorted(p.name for p in out.glob("*.yaml"))
    assert names[0] == "00-namespace.yaml"
    tiers = list(
        yaml.safe_load_all((out / next(n for n in names if n.endswith("-tier.yaml"))).read_text())
    )
    assert tiers[0]["metadata"]["name"] == c.TIER_NAME
    assert "wrote" in capsys.readouterr().out
