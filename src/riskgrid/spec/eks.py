"""``EksCluster``: the platform's cluster baseline, rendered as an eksctl ``ClusterConfig``.

Only what a platform team must choose is here (region, version, KMS key, network, node groups,
add-on versions, administrators); the security settings of the baseline (private endpoint,
envelope encryption, control-plane logging, access entries, Pod Identity, IMDSv2, encrypted
volumes, no SSH) are not options — :mod:`riskgrid.tenancy.eks` always renders them and the CIS
rule set (``RG-EKS-…``) checks the result.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from riskgrid.spec.base import Resource, Strict
from riskgrid.spec.loading import load_resource

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_KMS_KEY_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:kms:[a-z]{2}(?:-gov)?-[a-z]+-[0-9]:[0-9]{12}:key/[0-9a-f-]{36}$"
)
_IAM_PRINCIPAL = re.compile(
    r"^arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$"
)
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
#: eksctl/EKS add-on versions as EKS publishes them, e.g. v1.19.2-eksbuild.1.
_ADDON_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+$")


def _region(v: str) -> str:
    if not _REGION.match(v):
        raise ValueError(f"{v!r} is not an AWS region name such as 'eu-west-2' (no wildcards)")
    return v


def _kms_key(v: str) -> str:
    if not _KMS_KEY_ARN.match(v):
        raise ValueError(
            f"{v!r} is not a customer-managed KMS key ARN "
            "(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; no aliases, no wildcards)"
        )
    return v


def _public_cidr(v: str) -> str:
    try:
        net = ipaddress.ip_network(v, strict=True)
    except ValueError as exc:
        raise ValueError(f"{v!r} is not a CIDR: {exc}") from None
    if net.prefixlen < 16:
        raise ValueError(
            f"{v!r} would expose the API endpoint to {net.num_addresses} addresses; "
            "list the bank's egress ranges (/16 or narrower)"
        )
    return v


Region = Annotated[str, AfterValidator(_region)]
KmsKeyArn = Annotated[str, AfterValidator(_kms_key)]
PublicCidr = Annotated[str, AfterValidator(_public_cidr)]


class Endpoint(Strict):
    """The Kubernetes API endpoint: private always; public only for listed networks."""

    public_access: bool = Field(False, alias="publicAccess")
    public_access_cidrs: list[PublicCidr] = Field(default_factory=list, alias="publicAccessCIDRs")

    @model_validator(mode="after")
    def _not_open(self) -> Endpoint:
        if self.public_access and not self.public_access_cidrs:
            raise ValueError(
                "publicAccess: true with no publicAccessCIDRs would expose the API endpoint to "
                "the internet (EKS defaults to 0.0.0.0/0); set publicAccess: false or list CIDRs"
            )
        if self.public_access_cidrs and not self.public_access:
            raise ValueError("publicAccessCIDRs given but publicAccess is false")
        return self


class Vpc(Strict):
    id: str = Field(pattern=_VPC.pattern)
    private_subnets: dict[str, Annotated[str, Field(pattern=_SUBNET.pattern)]] = Field(
        alias="privateSubnets", min_length=2, description="Availability zone → private subnet id."
    )


class NodeGroup(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    instance_types: list[str] = Field(alias="instanceTypes", min_length=1)
    ami_family: Literal["Bottlerocket", "BottlerocketFips", "AmazonLinux2023"] = Field(
        "Bottlerocket", alias="amiFamily", description="Hardened, container-optimised AMIs only."
    )
    min_size: int = Field(alias="minSize", ge=0)
    max_size: int = Field(alias="maxSize", ge=1)
    desired_capacity: int = Field(alias="desiredCapacity", ge=0)
    volume_size: int = Field(100, alias="volumeSize", ge=20, le=16384)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroup:
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise ValueError("need minSize <= desiredCapacity <= maxSize")
        return self


class Addon(Strict):
    name: Literal[
        "vpc-cni",
        "coredns",
        "kube-proxy",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
        "amazon-cloudwatch-observability",
    ]
    version: str = Field(
        pattern=_ADDON_VERSION.pattern, description="Pinned, e.g. v1.19.2-eksbuild.1 (no 'latest')."
    )


class Admin(Strict):
    """An access entry: an IAM principal and the EKS access policy it is granted."""

    principal_arn: str = Field(alias="principalArn", pattern=_IAM_PRINCIPAL.pattern)
    access: Literal["cluster-admin", "admin", "view"] = "view"


class EksClusterSpec(Strict):
    account: str = Field(pattern=_ACCOUNT.pattern)
    region: Region
    version: str = Field(pattern=r"^1\.[0-9]{2}$", description="Kubernetes minor, e.g. '1.33'.")
    kms_key_arn: KmsKeyArn = Field(alias="kmsKeyArn", description="Secrets envelope encryption.")
    endpoint: Endpoint = Field(default_factory=Endpoint)
    vpc: Vpc
    network_policy: Literal["calico", "vpc-cni"] = Field(
        "calico",
        alias="networkPolicy",
        description="Which engine enforces NetworkPolicy; with calico the VPC CNI's is off.",
    )
    node_groups: list[NodeGroup] = Field(alias="nodeGroups", min_length=1)
    addons: list[Addon] = Field(min_length=1)
    admins: list[Admin] = Field(min_length=1)
    log_retention_days: int = Field(400, alias="logRetentionDays", ge=90)

    @model_validator(mode="after")
    def _coherent(self) -> EksClusterSpec:
        if self.kms_key_arn.split(":")[3] != self.region:
            raise ValueError(f"kmsKeyArn: the key must be in the cluster's region {self.region}")
        if self.kms_key_arn.split(":")[4] != self.account:
            raise ValueError(f"kmsKeyArn: the key must be in the cluster's account {self.account}")
        names = [a.name for a in self.addons]
        if len(set(names)) != len(names):
            raise ValueError("addons: each add-on may be listed once")
        if "eks-pod-identity-agent" not in names:
            raise ValueError("addons: eks-pod-identity-agent is required (workload identity)")
        groups = [g.name for g in self.node_groups]
        if len(set(groups)) != len(groups):
            raise ValueError("nodeGroups: names must be unique")
        return self


class EksCluster(Resource):
    """The EKS cluster riskgrid's tenants run on."""

    kind: Literal["EksCluster"]
    spec: EksClusterSpec


def load_eks_cluster(path: str | Path) -> EksCluster:
    """Load an ``EksCluster``; raises :class:`~riskgrid.spec.errors.SpecError` naming the field."""
    return load_resource(path, EksCluster)
