"""ServiceAccess → IAM policy, trust, Pod Identity association and egress; bad requests; the
cloud check of ``tenant verify`` (cross-tenant reach, trust)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskgrid.spec.eks import load_eks_cluster
from riskgrid.spec.errors import SpecError
from riskgrid.spec.service_access import ServiceAccess, load_service_access
from riskgrid.spec.tenant import load_tenants
from riskgrid.tenancy.cloud import plan_access, render_service_access
from riskgrid.tenancy.iam_reach import cross_tenant_reach, matches, overlaps
from riskgrid.tenancy.platform import render_platform
from riskgrid.tenancy.render import render_tenants
from riskgrid.tenancy.verify import verify

ROOT = Path(__file__).resolve().parents[2]
TENANTS = [ROOT / "examples" / "tenants" / f for f in ("eq-vol.yaml", "rates.yaml")]
CLUSTER = ROOT / "examples" / "platform" / "eks-cluster.yaml"
EQ = ROOT / "examples" / "cloud" / "eq-vol-access.yaml"
RATES = ROOT / "examples" / "cloud" / "rates-access.yaml"


@pytest.fixture(scope="module")
def world():
    tenants = load_tenants(TENANTS)
    cluster = load_eks_cluster(CLUSTER)
    accesses = [(load_service_access(p), str(p)) for p in (EQ, RATES)]
    effective, objects = plan_access(tenants, accesses, cluster, {})
    return tenants, cluster, effective, objects


def _doc(obj: dict[str, Any], key: str = "policyDocument") -> dict[str, Any]:
    return json.loads(obj["spec"][key])


def _by_kind(objects, kind, tenant):
    return [o for o in objects if o["kind"] == kind and o["metadata"]["namespace"] == tenant]


def test_rendered_policy_is_least_privilege(world) -> None:
    _, _, _, objects = world
    [policy] = _by_kind(objects, "Policy", "eq-vol")
    doc = _doc(policy)
    actions = {a for st in doc["Statement"] for a in st["Action"]}
    # exactly the levels asked for: S3 write, SQS read, KMS write, Secrets read
    assert actions == {
        "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
        "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
    }  # fmt: skip
    for st in doc["Statement"]:
        assert st["Effect"] == "Allow" and "*" not in st["Resource"]
        eq = st["Condition"]["StringEquals"]
        assert eq["aws:SourceVpce"].startswith("vpce-")
        assert eq["aws:PrincipalTag/kubernetes-namespace"] == "eq-vol"
        for r in st["Resource"]:
            assert (
                "eq-vol" in r
                or r.endswith(":key/5f2d8c1a-9b3e-4d7f-8a6c-2e1b0f9d7c34")
                or (st["Condition"]["StringLike"]["s3:prefix"] == ["eq-vol/runs/*"])
            )
    write = next(st for st in doc["Statement"] if "s3:PutObject" in st["Action"])
    assert write["Condition"]["StringEquals"]["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert write["Resource"] == ["arn:aws:s3:::riskgrid-results-111122223333/eq-vol/runs/*"]
    secret = next(st for st in doc["Statement"] if "secretsmanager:GetSecretValue" in st["Action"])
    assert secret["Resource"][0].endswith(":secret:riskgrid/eq-vol/vendor-feed-??????")
    # and the library's IAM guardrails pass it: the same policy check verify runs
    from riskgrid.policy.check import check_objects

    report = check_objects(objects)
    assert [v for v in report.violations if v.policy_id.startswith("RG-AWS")] == []


def test_trust_policy_admits_only_pod_identity_for_the_namespace(world) -> None:
    _, _, _, objects = world
    [role] = _by_kind(objects, "Role", "eq-vol")
    [assoc] = _by_kind(objects, "PodIdentityAssociation", "eq-vol")
    [st] = _doc(role, "assumeRolePolicyDocument")["Statement"]
    assert st["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(st["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert st["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "111122223333",
        "aws:RequestTag/kubernetes-namespace": "eq-vol",
        "aws:RequestTag/kubernetes-service-account": "ray-worker",
    }
    assert st["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":cluster/riskgrid-prod")
    assert assoc["spec"]["serviceAccount"] == "ray-worker"
    assert assoc["spec"]["roleARN"] == (
        "arn:aws:iam::111122223333:role/riskgrid/tenants/riskgrid-eq-vol-ray-worker"
    )
    assert role["spec"]["policyRefs"] == [{"from": {"name": "riskgrid-eq-vol-ray-worker"}}]
    # verify's trust check catches a role another namespace could assume, or any principal
    bad = copy.deepcopy(role)
    doc = _doc(bad, "assumeRolePolicyDocument")
    doc["Statement"][0]["Principal"] = {"AWS": "*"}
    doc["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] = (
        "rates"
    )
    bad["spec"]["assumeRolePolicyDocument"] = json.dumps(doc)
    report = verify([], [bad], checks=("cloud",))
    assert {p.path.rsplit(".", 1)[1] for p in report.problems} == {"Principal", "Condition"}


def test_service_egress_reaches_only_the_endpoint(world) -> None:
    tenants, _, effective, _ = world
    eq = next(t for t in effective if t.name == "eq-vol")
    before = next(t for t in tenants if t.name == "eq-vol")
    added = [r for r in eq.spec.egress if r not in before.spec.egress]
    assert sorted(c for r in added for c in r.cidrs) == sorted(
        ["10.40.200.0/26", "10.40.201.0/27", "10.40.201.32/27", "10.40.201.64/27"]
    )
    assert all([p.port for p in r.ports] == [443] for r in added)
    # rates asked only for S3: its allow-list gains only the S3 endpoint
    rates = next(t for t in effective if t.name == "rates")
    rates_before = next(t for t in tenants if t.name == "rates")
    new = [c for r in rates.spec.egress if r not in rates_before.spec.egress for c in r.cidrs]
    assert new == ["10.40.200.0/26"]
    # the rendered bundles (Calico tier + NetworkPolicies) prove it: egress only to the
    # allow-list (now with the endpoints), no cross-tenant path
    report = verify(effective, [*render_platform(effective), *render_tenants(effective)],
                    checks=("network",))  # fmt: skip
    assert report.ok, [str(p) for p in report.problems]
    # judged against the desks' own allow-lists (without the endpoints), the same bundles
    # are egress findings: the rendered policies really open the endpoints, and only them
    strict = verify(tenants, [*render_platform(effective), *render_tenants(effective)],
                    checks=("network",))  # fmt: skip
    assert not strict.ok
    assert {p.rule for p in strict.problems} == {"netpol: egress"}, [
        str(p) for p in strict.problems
    ]
    reached = {p.object.split(" -> ")[1] for p in strict.problems}
    assert all(r.startswith(("10.40.200.0/26", "10.40.201.")) for r in reached), reached


def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "access.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


BASE = yaml.safe_load(EQ.read_text())


def _grant(**kw: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["spec"]["grants"] = [{"justification": "needed for the nightly revaluation batch", **kw}]
    return doc


BAD = [
    ("unknown service", _grant(service="dynamodb", access="read",
        resource="arn:aws:dynamodb:eu-west-2:111122223333:table/eq-vol_x"),
     "spec.grants[0].service", "unknown service 'dynamodb'"),
    ("level not offered", _grant(service="secretsmanager", access="write",
        resource="arn:aws:secretsmanager:eu-west-2:111122223333:secret:riskgrid/eq-vol/x"),
     "spec.grants[0].access", "does not offer access level 'write'"),
    ("outside the prefix", _grant(service="s3", access="read",
        resource="arn:aws:s3:::riskgrid-results-111122223333/rates/"),
     "spec.grants[0].resource", "outside the tenant's prefix"),
    ("another tenant's queue by prefix trick", _grant(service="sqs", access="read",
        resource="arn:aws:sqs:eu-west-2:111122223333:eq-vol-x_jobs"),
     "spec.grants[0].resource", "outside the tenant's prefix"),
    ("wildcard account", _grant(service="sqs", access="read",
        resource="arn:aws:sqs:eu-west-2:*:eq-vol_jobs"),
     "spec.grants[0].resource", "wildcards in the account or region"),
    ("wildcard region", _grant(service="sqs", access="write",
        resource="arn:aws:sqs:*:111122223333:eq-vol_jobs"),
     "spec.grants[0].resource", "wildcards in the account or region"),
    ("other account", _grant(service="sqs", access="write",
        resource="arn:aws:sqs:eu-west-2:999999999999:eq-vol_jobs"),
     "spec.grants[0].resource", "cluster's account 111122223333"),
    ("wildcard in the name", _grant(service="s3", access="write",
        resource="arn:aws:s3:::riskgrid-results-111122223333/eq-vol/*"),
     "spec.grants[0].resource", "no wildcards in the resource name"),
    ("kms without the tenant's alias", _grant(service="kms", access="read",
        resource="arn:aws:kms:eu-west-2:111122223333:key/5f2d8c1a-9b3e-4d7f-8a6c-2e1b0f9d7c34",
        alias="alias/riskgrid/rates/results"),
     "spec.grants[0].alias", "alias/riskgrid/eq-vol/"),
    ("not an ARN", _grant(service="s3", access="read", resource="s3://bucket/eq-vol/"),
     "spec.grants[0].resource", "is not an ARN"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "field", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_requests_name_file_and_field(world, tmp_path, doc, field, reason) -> None:
    tenants, cluster, _, _ = world
    source = _write(tmp_path, doc)
    with pytest.raises(SpecError) as err:
        plan_access(tenants, [(load_service_access(source), source)], cluster, {})
    [problem] = err.value.problems
    assert problem.source == source
    assert str(problem).startswith(f"{source}: {field}: "), str(problem)
    assert reason in problem.message


def test_bad_request_on_the_command_line_exits_2(tmp_path: Path, capsys) -> None:
    from riskgrid.cli.main import main

    source = _write(tmp_path, BAD[4][1])
    out = tmp_path / "out"
    rc = main(["tenant", "render", str(TENANTS[0]), "--access", source,
               "--cluster", str(CLUSTER), "-o", str(out)])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    assert f"error: {source}: spec.grants[0].resource: wildcards in the account" in err
    assert not out.exists()  # nothing written


def test_unassured_service_is_refused_with_the_missing_controls(world, tmp_path) -> None:
    tenants, cluster, _, _ = world
    access = load_service_access(EQ)
    unassured = {"kms": ["C-CLOUD-07 (planned: not implemented)"]}
    with pytest.raises(SpecError) as err:
        plan_access(tenants, [(access, str(EQ))], cluster, unassured)
    [problem] = err.value.problems
    assert problem.loc == ("spec", "grants", 2, "service")
    assert "kms is not an assured service" in problem.message and "C-CLOUD-07" in problem.message


def test_secrets_are_read_only(world) -> None:
    from riskgrid.policy.library import load_library
    from riskgrid.spec.cloud_catalogue import CATALOGUE

    # RG-AWS-006's allowed actions are exactly the catalogue's (one list, checked here)
    offered = {a for s in CATALOGUE.values() for lv in s.levels.values() for a in lv}
    assert set(load_library().get("RG-AWS-006").defaults["actions"]) == offered
    assert "secretsmanager:PutSecretValue" not in offered

    assert set(CATALOGUE["secretsmanager"].levels) == {"read"}
    assert all(
        a.split(":")[1].startswith(("Get", "Describe"))
        for a in CATALOGUE["secretsmanager"].levels["read"]
    )


def test_kms_grant_bound_to_alias(world) -> None:
    _, _, _, objects = world
    [policy] = _by_kind(objects, "Policy", "eq-vol")
    st = next(s for s in _doc(policy)["Statement"] if "kms:Decrypt" in s["Action"])
    assert st["Resource"] == [
        "arn:aws:kms:eu-west-2:111122223333:key/5f2d8c1a-9b3e-4d7f-8a6c-2e1b0f9d7c34"
    ]
    assert st["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": ["alias/riskgrid/eq-vol/results"]
    }


SQS = "arn:aws:sqs:eu-west-2:111122223333:"
SECRET = "arn:aws:secretsmanager:r:1:secret:riskgrid/a/"
KEY = "arn:aws:kms:eu-west-2:111122223333:key/5f2d8c1a-9b3e-4d7f-8a6c-2e1b0f9d7c34"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("arn:aws:s3:::b/eq-vol/*", "arn:aws:s3:::b/rates/*", False),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/rates/x", True),
        ("arn:aws:s3:::b/eq-vol/*", "arn:aws:s3:::b/eq-vol-2/*", False),
        ("arn:aws:s3:::b/eq*", "arn:aws:s3:::b/eq-vol-2/x", True),
        (f"{SQS}eq-vol_*", f"{SQS}eq-vol_q", True),
        ("arn:aws:sqs:*:111122223333:q", "arn:aws:sqs:eu-west-2:111122223333:q", True),
        ("arn:aws:sqs:eu-west-?:111122223333:q", "arn:aws:sqs:eu-west-2:111122223333:q", True),
        ("arn:aws:sqs:eu-west-2:111122223333:q", "arn:aws:sqs:eu-west-1:111122223333:q", False),
        # a wildcard in the region field stays in its field (IAM matches ARN fields separately)
        ("arn:aws:sqs:eu*:111122223333:q", "arn:aws:sqs:eu-west-2:999999999999:q", False),
        (f"{SECRET}x-??????", f"{SECRET}x-abcdef", True),
        (f"{SECRET}x-??????", f"{SECRET}x-abcdefg", False),
        ("*", "arn:aws:kms:r:1:key/k", True),
        ("arn:aws:s3:::b/a*c", "arn:aws:s3:::b/*bc", True),
        ("arn:aws:s3:::b/a*c", "arn:aws:s3:::b/*d", False),
        ("arn:aws:s3:::b/a*c", "arn:aws:s3:::b/d*", False),
    ],
)  # fmt: skip
def test_arn_pattern_overlap(a: str, b: str, expected: bool) -> None:
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected  # symmetric
    if "*" not in b and "?" not in b:
        assert matches(a, b) is expected


def test_cross_tenant_reach_is_found(world) -> None:
    tenants, cluster, _, objects = world
    assert cross_tenant_reach(objects) == []  # the examples share a bucket, not a prefix
    # rates asks for the whole bucket's listing by hand-editing its rendered policy
    rates_policy = copy.deepcopy(_by_kind(objects, "Policy", "rates")[0])
    doc = _doc(rates_policy)
    doc["Statement"][0]["Condition"]["StringLike"]["s3:prefix"] = ["*"]
    rates_policy["spec"]["policyDocument"] = json.dumps(doc)
    others = [o for o in objects if o is not _by_kind(objects, "Policy", "rates")[0]]
    found = cross_tenant_reach([*others, rates_policy])
    assert {(f.tenant, f.other_tenant) for f in found} == {("rates", "eq-vol"), ("eq-vol", "rates")}
    assert any(f.pattern == "arn:aws:s3:::riskgrid-results-111122223333/*" for f in found)
    report = verify([], [*others, rates_policy], checks=("cloud",))
    assert not report.ok and all(p.rule == "cloud: cross-tenant" for p in report.problems)
    # two tenants granted the same key: found too
    rates = next(t for t in tenants if t.name == "rates")
    shared = ServiceAccess.model_validate({
        "apiVersion": "riskgrid.dev/v1alpha1", "kind": "ServiceAccess",
        "metadata": {"name": "rates-key"},
        "spec": {"tenant": "rates", "grants": [{
            "service": "kms", "access": "read",
            "resource": KEY, "alias": "alias/riskgrid/rates/k",
            "justification": "reads eq-vol's encrypted results"}]},
    })  # fmt: skip
    found = cross_tenant_reach([*objects, *render_service_access(rates, shared, cluster)])
    assert any(f.pattern.startswith("arn:aws:kms:") for f in found)


def test_verify_with_access_is_ok(world) -> None:
    """Every check, every tenant, with the service access rendered: schema (ACK CRDs), policy
    (IAM guardrails included), network (endpoint egress), cloud (no shared reach, trust)."""
    _, _, effective, objects = world
    report = verify(effective, [*render_platform(effective), *render_tenants(effective), *objects])
    assert report.ok, [str(p) for p in report.problems]
    assert report.checks == ("schema", "policy", "network", "cloud")
    assert report.tenant_pairs_checked == 2 == report.tenant_pairs_passed
