"""Rendered bundles: labelled, hardened, least-privilege, deterministic, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.spec.errors import RiskgridError
from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.output import bundle_files, dump_yaml, write_bundle
from riskgrid.tenancy.ray import RAY_PORTS
from riskgrid.tenancy.render import render_tenant, render_tenants


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.fixture(scope="module")
def bundles(example_tenants) -> dict[str, list[dict[str, Any]]]:
    return {t.name: render_tenant(t) for t in example_tenants}


def test_every_object_labelled_with_tenant_and_cost_centre(example_tenants, bundles) -> None:
    for t in example_tenants:
        for obj in bundles[t.name]:
            labels = obj["metadata"]["labels"]
            assert labels[c.TENANT_LABEL] == t.name, obj["metadata"]["name"]
            assert labels[c.COST_CENTRE_LABEL] == t.spec.cost_centre
            if "namespace" in obj["metadata"]:
                assert obj["metadata"]["namespace"] == t.namespace


def test_bundle_contents(bundles) -> None:
    kinds = sorted({o["kind"] for o in bundles["eq-vol"]})
    assert kinds == sorted(
        [
            "Namespace",
            "ResourceQuota",
            "LimitRange",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "NetworkPolicy",
            "GlobalNetworkPolicy",
            "ClusterQueue",
            "LocalQueue",
            "RayCluster",
        ]
    )


def test_namespace_pod_security_restricted_and_pinned(bundles) -> None:
    (ns,) = _by_kind(bundles["fx-options"], "Namespace")
    labels = ns["metadata"]["labels"]
    assert ns["metadata"]["name"] == "desk-fx-options"
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == c.PSA_VERSION
    assert labels[c.CLASSIFICATION_LABEL] == "confidential"


def test_quota_is_quota_plus_burst_and_kueue_borrows_the_burst(bundles) -> None:
    (rq,) = _by_kind(bundles["eq-vol"], "ResourceQuota")
    hard = rq["spec"]["hard"]
    assert hard["requests.cpu"] == "96" and hard["limits.memory"] == "384Gi"
    assert hard["pods"] == "80" and hard["requests.nvidia.com/gpu"] == "0"
    assert hard["services.loadbalancers"] == "0"
    (cq,) = _by_kind(bundles["eq-vol"], "ClusterQueue")
    assert cq["spec"]["cohortName"] == c.KUEUE_COHORT
    res = {r["name"]: r for r in cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"]}
    assert res["cpu"] == {"name": "cpu", "nominalQuota": "64", "borrowingLimit": "32"}
    assert res["memory"]["nominalQuota"] == "256Gi" and res["memory"]["borrowingLimit"] == "128Gi"
    (gpu_cq,) = _by_kind(bundles["rates"], "ClusterQueue")
    gpu = gpu_cq["spec"]["resourceGroups"][1]["flavors"][0]["resources"][0]
    assert gpu == {"name": "nvidia.com/gpu", "nominalQuota": "4", "borrowingLimit": "2"}
    (lq,) = _by_kind(bundles["rates"], "LocalQueue")
    assert lq["spec"]["clusterQueue"] == gpu_cq["metadata"]["name"]


def test_limit_range_max_is_the_larger_ray_node(example_tenants, bundles) -> None:
    """The per-container ceiling three documented Gatekeeper differences rely on
    (container-limits, container-limits-ignore-cpu, container-requests: riskgrid's policy has no
    ceilings because the LimitRange and job admission enforce them)."""
    from riskgrid.tenancy.quantities import add as parse_quantity

    for t in example_tenants:
        (lr,) = _by_kind(bundles[t.name], "LimitRange")
        assert lr["metadata"]["name"] == "tenant-limits"
        assert lr["metadata"]["namespace"] == t.namespace
        (limits,) = lr["spec"]["limits"]
        assert limits["type"] == "Container"
        ray = t.spec.ray
        cpu = max(parse_quantity(str(ray.head.cpu)), parse_quantity(str(ray.worker.cpu)))
        mem = max(parse_quantity(str(ray.head.memory)), parse_quantity(str(ray.worker.memory)))
        assert parse_quantity(limits["max"]["cpu"]) == cpu, t.name
        assert parse_quantity(limits["max"]["memory"]) == mem, t.name
        for key in ("cpu", "memory"):
            # defaults sit under the ceiling, or a container that sets nothing is refused
            assert (
                parse_quantity(limits["defaultRequest"][key])
                <= parse_quantity(limits["default"][key])
                <= parse_quantity(limits["max"][key])
            )
    (eq,) = _by_kind(bundles["eq-vol"], "LimitRange")
    assert eq["spec"]["limits"][0]["max"] == {"cpu": "4", "memory": "16Gi"}


FORBIDDEN = {
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("", "namespaces"),
    ("", "secrets"),
    ("", "pods/exec"),
    ("", "serviceaccounts"),
    ("networking.k8s.io", "networkpolicies"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("projectcalico.org", "networkpolicies"),
}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind"}


def test_rbac_least_privilege(bundles) -> None:
    roles = _by_kind(bundles["eq-vol"], "Role")
    assert {r["metadata"]["name"] for r in roles} == {
        "riskgrid-viewer",
        "riskgrid-developer",
        "riskgrid-admin",
    }
    for role in roles:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert "*" not in rule["apiGroups"]
            for group in rule["apiGroups"]:
                for res in rule["resources"]:
                    if (group, res) in FORBIDDEN:
                        assert not WRITE_VERBS & set(rule["verbs"]), (role, group, res)
                    assert res != "secrets", "no role may read Secrets (the Ray token lives there)"
    bindings = {b["metadata"]["name"]: b for b in _by_kind(bundles["eq-vol"], "RoleBinding")}
    viewers = bindings["riskgrid-viewer-viewers"]
    assert [s["name"] for s in viewers["subjects"]] == [
        "risk-eq-vol-viewers",
        "market-risk-oversight",
    ]
    assert all(s["kind"] == "Group" for b in bindings.values() for s in b["subjects"])
    # fx-options has no admins: no empty binding is rendered
    fx = {b["metadata"]["name"] for b in _by_kind(bundles["fx-options"], "RoleBinding")}
    assert "riskgrid-admin-admins" not in fx and "riskgrid-admin-owners" in fx


def test_service_accounts_no_token_and_iam_role(bundles) -> None:
    for sa in _by_kind(bundles["eq-vol"], "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False
        assert sa["metadata"]["annotations"][c.IRSA_ANNOTATION] == (
            "arn:aws:iam::111122223333:role/riskgrid-eq-vol"
        )
    for sa in _by_kind(bundles["fx-options"], "ServiceAccount"):
        assert c.IRSA_ANNOTATION not in sa["metadata"]["annotations"]
        assert c.POD_IDENTITY_ANNOTATION in sa["metadata"]["annotations"]
    for sa in _by_kind(bundles["rates"], "ServiceAccount"):
        assert "annotations" not in sa["metadata"]


def test_network_policies(bundles) -> None:
    nps = {n["metadata"]["name"]: n["spec"] for n in _by_kind(bundles["eq-vol"], "NetworkPolicy")}
    assert nps["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = nps["allow-dns"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    ray = nps["allow-ray-internal"]
    ports = {p["port"] for p in ray["ingress"][0]["ports"]}
    assert {6379, 8265, 10001, 8076, 8077, 10002} <= ports
    assert ray["ingress"][0]["from"] == ray["egress"][0]["to"]
    head = nps["allow-platform-to-ray-head"]["ingress"][0]
    assert {p["port"] for p in head["ports"]} == {10001, 8265}
    egress = nps["allow-egress-allow-list"]["egress"]
    assert egress[0]["to"] == [{"ipBlock": {"cidr": "10.40.12.0/24"}}]
    # rates has no allow-list: no policy that would allow anything beyond DNS and Ray
    assert "allow-egress-allow-list" not in {
        n["metadata"]["name"] for n in _by_kind(bundles["rates"], "NetworkPolicy")
    }


def test_calico_tenant_policy(bundles) -> None:
    (gnp,) = _by_kind(bundles["fx-options"], "GlobalNetworkPolicy")
    spec = gnp["spec"]
    assert gnp["metadata"]["name"] == f"{c.TIER_NAME}.tenant-fx-options"
    assert spec["tier"] == c.TIER_NAME
    assert spec["namespaceSelector"] == "riskgrid.dev/tenant == 'fx-options'"
    assert spec["ingress"][0] == {
        "action": "Deny",
        "source": {
            "namespaceSelector": (
                "riskgrid.dev/isolation == 'tenant' && riskgrid.dev/tenant != 'fx-options'"
            )
        },
    }
    egress = spec["egress"]
    assert egress[0] == {"action": "Deny", "destination": {"nets": list(c.METADATA_CIDRS)}}
    assert egress[-1] == {"action": "Deny"}
    passes = [r for r in egress if r.get("destination", {}).get("nets")]
    assert {tuple(r["destination"]["nets"]) for r in passes[1:]} == {
        ("10.41.0.0/28", "fd12:3456:789a:1::/64")
    }


def test_raycluster_hardened(example_tenants, bundles) -> None:
    tenant: Tenant = example_tenants[2]
    (rc,) = _by_kind(bundles[tenant.name], "RayCluster")
    spec = rc["spec"]
    assert spec["authOptions"] == {"mode": "token"}
    assert spec["tlsOptions"] == {"enabled": True}  # KubeRay's TLS between Ray components
    assert spec["headGroupSpec"]["serviceType"] == "ClusterIP"  # head never exposed outside
    assert "RAY_AUTH_TOKEN" not in dump_yaml([rc])
    assert rc["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == c.LOCAL_QUEUE
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for g in groups:
        pod = g["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for ctr in pod["containers"]:
            sc = ctr["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert "@sha256:" in ctr["image"] and ctr["image"] == tenant.spec.ray.image
            assert ctr["resources"]["requests"] == ctr["resources"]["limits"]
            assert {m["mountPath"] for m in ctr["volumeMounts"]} == {"/tmp", "/dev/shm"}
        # every port Ray opens is pinned, so the NetworkPolicy can name it
        params = g["rayStartParams"]
        assert params["min-worker-port"] == "10002" and params["node-manager-port"] == "8077"
    worker = spec["workerGroupSpecs"][0]
    assert (
        worker["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    )
    assert (worker["minReplicas"], worker["maxReplicas"]) == (1, 4)
    assert all(p.port > 0 for p in RAY_PORTS)


def test_render_is_deterministic(example_tenants) -> None:
    a = dump_yaml(render_tenants(example_tenants))
    b = dump_yaml(render_tenants(list(reversed(example_tenants))))
    assert a == b
    assert "&id" not in a  # no YAML anchors


def test_write_bundle_layouts_and_replacement(example_tenants, tmp_path: Path) -> None:
    objects = render_tenants(example_tenants)
    out = tmp_path / "bundle"
    files = write_bundle(objects, out)
    assert len(files) == len(objects)
    assert files[0].name == "000-namespace_desk-fx-options.yaml"
    reread = [yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))]
    assert reread == objects
    (out / "stale.yaml").write_text("x: 1\n")
    write_bundle(objects[:3], out, "kind")
    assert sorted(p.name for p in out.iterdir()) == [".riskgrid-bundle", "00-namespace.yaml"]
    assert sorted(bundle_files(objects, "kind"))[0] == "00-namespace.yaml"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_refuses_to_replace_a_foreign_directory(example_tenants, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work\n")
    with pytest.raises(RiskgridError, match="not empty and was not written by riskgrid"):
        write_bundle(render_tenants(example_tenants), home)
    assert [p.name for p in home.iterdir()] == ["thesis.tex"]


def test_write_failure_leaves_previous_bundle(example_tenants, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.yaml").write_text("kept: true\n")
    (out / ".riskgrid-bundle").write_text("")
    objects = render_tenants(example_tenants)
    # A name too long for a file name makes the write fail half-way, for real.
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x" * 300, "namespace": "eq-vol"},
        }
    )
    with pytest.raises(RiskgridError, match="cannot write bundle"):
        write_bundle(objects, out)
    assert sorted(p.name for p in out.iterdir()) == [".riskgrid-bundle", "keep.yaml"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_cli_render(example_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["tenant", "render", *map(str, example_files), "-o", str(out)]) == 0
    assert "wrote 60 objects" in capsys.readouterr().out
    assert len(list(out.glob("*.yaml"))) == 60
