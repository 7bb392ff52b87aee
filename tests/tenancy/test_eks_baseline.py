"""``riskgrid platform render --target eks``: the eksctl ClusterConfig, eksctl's schema, the CIS
EKS rule set, and bad baselines refused with file and field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from riskgrid.cli.main import main
from riskgrid.policy.check import check_objects
from riskgrid.spec.eks import EksCluster, load_eks_cluster
from riskgrid.spec.errors import SpecError
from riskgrid.tenancy.eks import LOG_TYPES, render_checked, render_cluster_config, schema_problems

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform" / "eks-cluster.yaml"


@pytest.fixture(scope="module")
def cluster() -> EksCluster:
    return load_eks_cluster(EXAMPLE)


def test_rendered_config_is_schema_valid_and_cis_clean(cluster) -> None:
    config, report = render_checked(cluster, str(EXAMPLE))
    assert schema_problems(config) == []
    assert report.violations == [] and report.errors == []
    assert config["apiVersion"] == "eksctl.io/v1alpha5" and config["kind"] == "ClusterConfig"


def test_baseline_settings(cluster) -> None:
    c = render_cluster_config(cluster)
    assert c["vpc"]["clusterEndpoints"] == {"privateAccess": True, "publicAccess": False}
    assert "publicAccessCIDRs" not in c["vpc"]
    assert c["secretsEncryption"]["keyARN"] == cluster.spec.kms_key_arn
    assert c["cloudWatch"]["clusterLogging"]["enableTypes"] == list(LOG_TYPES)
    assert c["accessConfig"]["authenticationMode"] == "API"
    assert c["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    assert c["iam"] == {"withOIDC": False}
    assert {a["name"] for a in c["addons"]} >= {"eks-pod-identity-agent", "vpc-cni"}
    assert all(a["version"].startswith("v") and "eksbuild" in a["version"] for a in c["addons"])
    cni = next(a for a in c["addons"] if a["name"] == "vpc-cni")
    assert cni["configurationValues"] == "enableNetworkPolicy: 'false'"  # Calico enforces
    for g in c["managedNodeGroups"]:
        assert g["amiFamily"] == "Bottlerocket" and g["privateNetworking"] is True
        assert g["disableIMDSv1"] is True and g["disablePodIMDS"] is True
        assert g["volumeEncrypted"] is True and g["volumeKmsKeyID"] in cluster.spec.kms_key_arn
        assert g["ssh"] == {"allow": False, "enableSsm": False}
    # with the VPC CNI as the enforcer, its agent is on (and the CIS rule is parameterised)
    doc = cluster.model_dump(by_alias=True)
    doc["spec"]["networkPolicy"] = "vpc-cni"
    c2 = render_cluster_config(EksCluster.model_validate(doc))
    assert next(a for a in c2["addons"] if a["name"] == "vpc-cni")["configurationValues"] == (
        "enableNetworkPolicy: 'true'"
    )


WEAKENINGS = [
    ("RG-EKS-001", "cloudWatch.clusterLogging.enableTypes",
     lambda c: c["cloudWatch"]["clusterLogging"].update(enableTypes=["api"])),
    ("RG-EKS-002", "secretsEncryption.keyARN", lambda c: c.pop("secretsEncryption")),
    ("RG-EKS-003", "vpc.clusterEndpoints.publicAccess",
     lambda c: c["vpc"]["clusterEndpoints"].update(publicAccess=True)),
    ("RG-EKS-004", "managedNodeGroups[1].disableIMDSv1",
     lambda c: c["managedNodeGroups"][1].update(disableIMDSv1=False)),
    ("RG-EKS-004", "managedNodeGroups[0].ssh.allow",
     lambda c: c["managedNodeGroups"][0].update(ssh={"allow": True})),
    ("RG-EKS-005", "accessConfig.authenticationMode",
     lambda c: c["accessConfig"].update(authenticationMode="CONFIG_MAP")),
    ("RG-EKS-006", "addons", lambda c: c.update(
        addons=[a for a in c["addons"] if a["name"] != "eks-pod-identity-agent"])),
    ("RG-EKS-007", "addons[0].configurationValues",
     lambda c: c["addons"][0].update(configurationValues="enableNetworkPolicy: 'true'")),
]  # fmt: skip


@pytest.mark.parametrize(("policy", "path", "weaken"), WEAKENINGS, ids=[w[1] for w in WEAKENINGS])
def test_weakened_config_is_caught(cluster, policy, path, weaken) -> None:
    """Each weakening of the real rendered config is caught by its CIS rule, at its path."""
    config = copy.deepcopy(render_cluster_config(cluster))
    weaken(config)
    assert schema_problems(config) == []  # still a valid eksctl file: only the rules catch it
    found = {(v.policy_id, v.path) for v in check_objects([config]).violations}
    assert found == {(policy, path)}


def _write(tmp_path: Path, mutate) -> Path:
    doc = yaml.safe_load(EXAMPLE.read_text())
    mutate(doc["spec"])
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


BAD = [
    ("public endpoint with no CIDRs", lambda s: s["endpoint"].update(publicAccess=True),
     "spec.endpoint", "would expose the API endpoint to the internet"),
    ("public endpoint for the whole internet",
     lambda s: s["endpoint"].update(publicAccess=True, publicAccessCIDRs=["0.0.0.0/0"]),
     "spec.endpoint.publicAccessCIDRs[0]", "would expose the API endpoint"),
    ("an alias for the KMS key",
     lambda s: s.update(kmsKeyArn="arn:aws:kms:eu-west-2:111122223333:alias/eks"),
     "spec.kmsKeyArn", "not a customer-managed KMS key ARN"),
    ("a general-purpose AMI", lambda s: s["nodeGroups"][0].update(amiFamily="Ubuntu2204"),
     "spec.nodeGroups[0].amiFamily", "Input should be"),
    ("an unpinned add-on", lambda s: s["addons"][0].update(version="latest"),
     "spec.addons[0].version", "String should match pattern"),
    ("no Pod Identity agent",
     lambda s: s.update(addons=[a for a in s["addons"] if a["name"] != "eks-pod-identity-agent"]),
     "spec", "eks-pod-identity-agent is required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "field", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_baseline_exits_2_with_file_and_field(tmp_path, capsys, mutate, field, reason) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(SpecError) as err:
        load_eks_cluster(path)
    assert any(str(p).startswith(f"{path}: {field}: ") and reason in p.message
               for p in err.value.problems), [str(p) for p in err.value.problems]  # fmt: skip
    out = tmp_path / "out"
    rc = main(["platform", "render", "--target", "eks", "--cluster", str(path), "-o", str(out)])
    assert rc == 2 and f"{path}: {field}: " in capsys.readouterr().err
    assert not out.exists()


def test_cli_render_eks(tmp_path, capsys) -> None:
    out = tmp_path / "eks"
    rc = main(["platform", "render", "--target", "eks", "--cluster", str(EXAMPLE), "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    [written] = list(out.glob("*.yaml"))
    config = yaml.safe_load(written.read_text())
    assert schema_problems(config) == [] and config["metadata"]["name"] == "riskgrid-prod"
    assert check_objects([config]).violations == []


def test_cis_rules_use_the_library_exceptions(cluster) -> None:
    """A CIS finding is waived by a scoped, unexpired PolicyException like any other rule."""
    import datetime as dt

    from riskgrid.spec.exceptions import PolicyException

    config = copy.deepcopy(render_cluster_config(cluster))
    config["vpc"]["clusterEndpoints"]["publicAccess"] = True
    config["vpc"]["publicAccessCIDRs"] = ["203.0.113.0/24", "0.0.0.0/0"]

    def waiver(expires: str) -> PolicyException:
        return PolicyException.model_validate({
            "apiVersion": "riskgrid.dev/v1alpha1", "kind": "PolicyException",
            "metadata": {"name": "bootstrap-endpoint"},
            "spec": {"policy": "RG-EKS-003",
                     "scope": {"kind": "ClusterConfig", "name": "riskgrid-prod"},
                     "justification": "public endpoint during the bootstrap window only",
                     "approver": "ciso-office", "expires": expires},
        })  # fmt: skip

    today = dt.date(2026, 11, 29)
    report = check_objects([config], exceptions=[waiver("2026-12-31")], today=today)
    assert report.violations == [] and [v.policy_id for v in report.waived] == ["RG-EKS-003"]
    expired = check_objects([config], exceptions=[waiver("2026-11-01")], today=today)
    assert [v.policy_id for v in expired.violations] == ["RG-EKS-003"]
