"""Verification: schemas, the policy library and the multi-tenant isolation proof (issue §3, §5)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.spec.errors import SpecError
from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.render import render_tenants
from riskgrid.tenancy.schemas import validate_objects
from riskgrid.tenancy.verify import verify, verify_tenants, without_tier


def allow_all(namespace: str, tenant: str) -> dict[str, Any]:
    """What a careless (or hostile) namespace admin could write: allow everything."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "allow-everything",
            "namespace": namespace,
            "labels": {c.TENANT_LABEL: tenant, c.COST_CENTRE_LABEL: "CC-0000"},
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{}],
            "egress": [{}],
        },
    }


@pytest.fixture(scope="module")
def world(example_tenants) -> list[dict[str, Any]]:
    """The platform (without the Gatekeeper export, checked separately) and three tenants."""
    return [*render_platform(example_tenants, gatekeeper=False), *render_tenants(example_tenants)]


def test_every_rendered_object_passes_its_schema(world) -> None:
    assert validate_objects(world) == []
    kinds = {o["kind"] for o in world}
    assert {"Tier", "GlobalNetworkPolicy", "ClusterQueue", "RayCluster", "ResourceFlavor"} <= kinds


@pytest.mark.parametrize(
    ("kind", "mutate", "path", "reason"),
    [
        (
            "NetworkPolicy",
            lambda o: o["spec"].update(podSelector={"matchLabelz": {}}),
            "spec.podSelector",
            "'matchLabelz' was unexpected",
        ),
        ("ResourceQuota", lambda o: o["spec"].update(hard=["cpu"]), "spec.hard", "not of type"),
        (
            "RayCluster",
            lambda o: o["spec"]["authOptions"].update(mode="none"),
            "spec.authOptions.mode",
            "is not one of",
        ),
        (
            "RayCluster",
            lambda o: o["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0][
                "securityContext"
            ].update(runAsNonRot=True),
            "spec.headGroupSpec.template.spec.containers[0].securityContext",
            "unexpected",
        ),
        (
            "GlobalNetworkPolicy",
            lambda o: o["spec"]["egress"][0].update(action="Allowed"),
            "spec.egress[0].action",
            "is not one of",
        ),
        (
            "ClusterQueue",
            lambda o: o["spec"].update(cohort="riskgrid"),
            "spec",
            "'cohort' was unexpected",
        ),
        (
            "Namespace",
            lambda o: o["metadata"]["labels"].update({"bad key!": "x"}),
            "metadata.labels.bad key!",
            "label key",
        ),
        (
            "Role",
            lambda o: o.update(apiVersion="rbac.authorization.k8s.io/v2"),
            "apiVersion",
            "no schema known",
        ),
    ],
)
def test_schema_failures_name_object_rule_and_path(world, kind, mutate, path, reason) -> None:
    obj = copy.deepcopy(next(o for o in world if o["kind"] == kind))
    mutate(obj)
    problems = validate_objects([obj])
    assert problems, f"mutated {kind} still validated"
    assert any(p.path == path and reason in p.message for p in problems), problems
    assert problems[0].object.startswith(f"{kind}/")


def test_bundles_pass_policy_library_and_network_guarantees(example_tenants, world) -> None:
    report = verify(example_tenants, world)
    assert report.problems == []
    assert report.ok
    assert (report.tenant_pairs_checked, report.tenant_pairs_passed) == (6, 6)
    assert report.isolation_pass_rate == 1.0


def test_policy_failure_is_reported_with_rule_and_path(example_tenants, world) -> None:
    objects = copy.deepcopy(world)
    rc = next(
        o for o in objects if o["kind"] == "RayCluster" and o["metadata"]["namespace"] == "rates"
    )
    ctr = rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    ctr["securityContext"]["allowPrivilegeEscalation"] = True
    ctr["image"] = "docker.io/rayproject/ray:2.40.0"
    report = verify(example_tenants, objects, checks=("policy",))
    found = {(p.object, p.rule) for p in report.problems}
    assert ("RayCluster/rates/ray", "policy: RG-IMG-001") in found
    assert any(
        p.rule.startswith("policy: ") and "allowPrivilegeEscalation" in p.path
        for p in report.problems
    )
    # the other tenants' images are judged against their own allowed registries: still clean
    assert all(p.object == "RayCluster/rates/ray" for p in report.problems)


def test_images_are_judged_against_the_tenants_own_registries(example_tenants, world) -> None:
    """rates may use only .../riskgrid/gpu; eq-vol's image there is a violation."""
    objects = copy.deepcopy(world)
    rates = next(
        o for o in objects if o["kind"] == "RayCluster" and o["metadata"]["namespace"] == "rates"
    )
    eq = next(t for t in example_tenants if t.name == "eq-vol")
    rates["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = eq.spec.ray.image
    report = verify(example_tenants, objects, checks=("policy",))
    assert [p.rule for p in report.problems] == ["policy: RG-IMG-001"]


# --------------------------------------------------------------------------------------------
# §5 the multi-tenant proof
# --------------------------------------------------------------------------------------------


def _network(tenants: list[Tenant], objects: list[dict[str, Any]]):
    return verify(tenants, objects, checks=("network",))


def test_proof_isolation_for_every_tenant_pair(example_tenants, world) -> None:
    report = _network(example_tenants, world)
    assert report.tenant_pairs_checked == 6 and report.tenant_pairs_passed == 6
    assert report.problems == []


def test_proof_allow_all_in_one_tenant_tier_still_holds(example_tenants, world) -> None:
    objects = [*world, allow_all("eq-vol", "eq-vol")]
    with_tier = _network(example_tenants, objects)
    assert with_tier.problems == [], [str(p) for p in with_tier.problems]
    assert with_tier.tenant_pairs_passed == 6

    # Without the tier, namespaced policy alone lets the tenant reach the metadata service and
    # anywhere on the internet; the trace names the policy that opened it.
    bare = _network(example_tenants, without_tier(objects))
    rules = {p.rule for p in bare.problems}
    assert {"netpol: metadata", "netpol: egress"} <= rules
    meta = next(p for p in bare.problems if p.rule == "netpol: metadata")
    assert meta.object.startswith("eq-vol/") and "eq-vol/allow-everything" in meta.message
    # The other tenants' default-deny still refuses eq-vol's traffic: a cross-tenant path needs
    # both ends opened by namespaced policy (next test).
    assert bare.tenant_pairs_passed == 6


def test_proof_cross_tenant_path_without_tier(example_tenants, world) -> None:
    fx_ns = next(t.namespace for t in example_tenants if t.name == "fx-options")
    objects = [*world, allow_all("eq-vol", "eq-vol"), allow_all(fx_ns, "fx-options")]
    with_tier = _network(example_tenants, objects)
    assert with_tier.problems == [] and with_tier.tenant_pairs_passed == 6

    bare = _network(example_tenants, without_tier(objects))
    assert bare.failing_pairs == [("eq-vol", "fx-options"), ("fx-options", "eq-vol")]
    assert (bare.tenant_pairs_checked, bare.tenant_pairs_passed) == (6, 4)
    cross = [p for p in bare.problems if p.rule == "netpol: cross-tenant"]
    assert any(
        p.object.startswith("eq-vol/")
        and f"-> {fx_ns}/" in p.object
        and "eq-vol/allow-everything" in p.message
        and f"{fx_ns}/allow-everything" in p.message
        for p in cross
    ), [str(p) for p in cross]


def test_tenant_namespace_without_its_policy_fails_closed(example_tenants, world) -> None:
    """Drop eq-vol's tier policy but keep its allow-all: the guard + Deny default still hold."""
    objects = [o for o in world if o["metadata"]["name"] != f"{c.TIER_NAME}.tenant-eq-vol"] + [
        allow_all("eq-vol", "eq-vol")
    ]
    report = _network(example_tenants, objects)
    # The guard denies the metadata service; the tier's default action denies the rest.
    assert report.problems == [], [str(p) for p in report.problems]


def test_cli_verify_ok_and_failure(example_files, tmp_path, capsys) -> None:
    args = ["tenant", "verify", *map(str, example_files), "--no-gatekeeper"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: ") and "tenant pairs isolated 6/6" in out
    policy = tmp_path / "open.yaml"
    policy.write_text(
        yaml.safe_dump_all(
            [allow_all("eq-vol", "eq-vol"), allow_all("desk-fx-options", "fx-options")]
        )
    )
    assert main([*args, "--with", str(policy), "--without-tier"]) == 1
    out = capsys.readouterr().out
    assert "netpol: cross-tenant" in out and "tenant pairs isolated 4/6" in out


def test_verify_tenants_renders_everything(example_tenants) -> None:
    report = verify_tenants(example_tenants, gatekeeper=False)
    assert report.ok and report.tenant_pairs_passed == 6
    opened = verify_tenants(
        example_tenants, extra=[allow_all("rates", "rates")], gatekeeper=False, checks=("policy",)
    )
    assert {p.rule for p in opened.problems} == {"policy: RG-NET-004"}


def test_network_check_without_platform_is_bad_input(example_tenants) -> None:
    with pytest.raises(
        SpecError,
        match=r"GlobalNetworkPolicy/riskgrid-isolation\.tenant-eq-vol: "
        r"spec\.tier: tier 'riskgrid-isolation' is not defined",
    ):
        verify(example_tenants, render_tenants(example_tenants), checks=("network",))


def test_benchmark_smoke() -> None:
    """The benchmark's own code path at a tiny size (numbers are not asserted)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_tenancy.py"
    spec = importlib.util.spec_from_file_location("bench_tenancy", path)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.run(3, trace=False)
    assert (row["tenants"], row["pairs"], row["pairs_ok"]) == (3, 6, 6)


def test_isolated_but_working(example_tenants, world) -> None:
    """Isolation must not come from a dead bundle: the traffic the desk needs still flows."""
    from riskgrid.netpol.analysis import connectivity
    from riskgrid.tenancy.verify import synthetic_pods

    m = connectivity([*world, *synthetic_pods()])
    head, worker = "eq-vol/ray-head", "eq-vol/ray-worker-workers"
    # Ray inside the cluster: worker → GCS, head ↔ worker on node/object manager and workers
    assert m.allowed(worker, head, 6379)
    assert m.allowed(head, worker, 8076) and m.allowed(worker, head, 10500)
    assert not m.allowed(worker, head, 22)
    # the platform reaches the head's client and job ports, and nothing else of it
    api = "riskgrid-system/riskgrid-api"
    assert m.allowed(api, head, 10001) and m.allowed(api, head, 8265)
    assert not m.allowed(api, head, 6379) and not m.allowed(api, worker, 10001)
    # DNS, and the allow-list on its port only
    assert m.allowed(worker, "kube-system/kube-dns", 53, "UDP")
    assert m.allowed(worker, "10.40.12.0/24", 443) and not m.allowed(worker, "10.40.12.0/24", 80)
    # rates has no allow-list: nothing outside the cluster
    assert not m.allowed("rates/ray-worker-workers", "10.40.12.0/24", 443)
    # another desk's head, even on its client port: no
    assert not m.allowed(worker, "rates/ray-head", 10001)
