"""``EksCluster`` → an eksctl ``ClusterConfig`` (plain dict), validated against eksctl's schema.

The security settings are fixed here, not options: private endpoint (public only for the
spec's CIDRs), KMS envelope encryption of Secrets, all five control-plane log types, access
entries only (``authenticationMode: API``, no aws-auth ConfigMap, no implicit creator admin),
EKS Pod Identity (agent add-on; no OIDC provider, so no IRSA trust to forget), managed node
groups on Bottlerocket/AL2023 in private subnets with IMDSv1 disabled and pods cut off from IMDS
(eksctl writes hop limit 1 into the launch template it creates), encrypted root volumes with
the cluster key, no SSH, every add-on pinned, and the VPC CNI's network policy agent off when
Calico enforces NetworkPolicy. The CIS rule set (``RG-EKS-…``) checks the output, so a change
here that weakens the baseline fails ``platform render`` and the tests.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

from riskgrid.spec.eks import EksCluster
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.tenancy import constants as c

SCHEMA_PATH = Path(__file__).with_name("eksctl") / "clusterconfig-v1alpha5.schema.json"
API_VERSION = "eksctl.io/v1alpha5"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ACCESS_POLICIES = {
    "cluster-admin": "AmazonEKSClusterAdminPolicy",
    "admin": "AmazonEKSAdminPolicy",
    "view": "AmazonEKSViewPolicy",
}


def _partition(arn: str) -> str:
    return arn.split(":")[1]


def _addon(name: str, version: str, calico: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "version": version, "resolveConflicts": "overwrite"}
    if name == "vpc-cni":
        # The VPC CNI's own network policy agent stays off when Calico enforces: two engines
        # evaluating the same NetworkPolicies disagree on edge cases (and tiers are Calico's).
        # (YAML, which add-on configuration accepts as well as JSON)
        out["configurationValues"] = f"enableNetworkPolicy: '{'false' if calico else 'true'}'"
    return out


def render_cluster_config(cluster: EksCluster) -> dict[str, Any]:
    """The eksctl ``ClusterConfig`` for ``cluster`` (pure)."""
    s = cluster.spec
    partition = _partition(s.kms_key_arn)
    calico = s.network_policy == "calico"
    node_groups = []
    for g in s.node_groups:
        node_groups.append(
            {
                "name": g.name,
                "amiFamily": g.ami_family,
                "instanceTypes": list(g.instance_types),
                "minSize": g.min_size,
                "maxSize": g.max_size,
                "desiredCapacity": g.desired_capacity,
                "privateNetworking": True,
                "subnets": sorted(s.vpc.private_subnets.values()),
                "disableIMDSv1": True,
                "disablePodIMDS": True,
                "volumeSize": g.volume_size,
                "volumeType": "gp3",
                "volumeEncrypted": True,
                "volumeKmsKeyID": s.kms_key_arn.rsplit("/", 1)[1],
                "ssh": {"allow": False, "enableSsm": False},
                "labels": {**g.labels, c.MANAGED_BY_LABEL: c.MANAGED_BY},
                "tags": {"riskgrid.dev/cluster": cluster.metadata.name},
            }
        )
    endpoints = {"privateAccess": True, "publicAccess": s.endpoint.public_access}
    vpc: dict[str, Any] = {
        "id": s.vpc.id,
        "subnets": {
            "private": {az: {"id": sn} for az, sn in sorted(s.vpc.private_subnets.items())}
        },
        "clusterEndpoints": endpoints,
    }
    if s.endpoint.public_access:
        vpc["publicAccessCIDRs"] = list(s.endpoint.public_access_cidrs)
    entries = [
        {
            "principalARN": a.principal_arn,
            "accessPolicies": [
                {
                    "policyARN": (
                        f"arn:{partition}:eks::aws:cluster-access-policy/{ACCESS_POLICIES[a.access]}"
                    ),
                    "accessScope": {"type": "cluster"},
                }
            ],
        }
        for a in s.admins
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterConfig",
        "metadata": {
            "name": cluster.metadata.name,
            "region": s.region,
            "version": s.version,
            "tags": {
                "riskgrid.dev/cluster": cluster.metadata.name,
                c.MANAGED_BY_LABEL: c.MANAGED_BY,
            },
        },
        "vpc": vpc,
        "secretsEncryption": {"keyARN": s.kms_key_arn},
        "cloudWatch": {
            "clusterLogging": {
                "enableTypes": list(LOG_TYPES),
                "logRetentionInDays": s.log_retention_days,
            }
        },
        "accessConfig": {
            "authenticationMode": "API",
            "bootstrapClusterCreatorAdminPermissions": False,
            "accessEntries": entries,
        },
        "iam": {"withOIDC": False},
        "addons": [_addon(a.name, a.version, calico) for a in s.addons],
        "managedNodeGroups": node_groups,
    }


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def schema_problems(config: dict[str, Any]) -> list[tuple[str, str]]:
    """``(path, message)`` for every place ``config`` breaks eksctl's ClusterConfig schema."""
    out = []
    for err in sorted(_validator().iter_errors(config), key=lambda e: list(e.absolute_path)):
        path = ""
        for p in err.absolute_path:
            path += f"[{p}]" if isinstance(p, int) else (f".{p}" if path else str(p))
        out.append((path, err.message))
    return out


def render_checked(cluster: EksCluster, source: str) -> tuple[dict[str, Any], Any]:
    """Render, validate against eksctl's schema and run the policy library (CIS rule set).

    Returns the config and the :class:`~riskgrid.policy.report.CheckReport`. A schema problem
    is riskgrid's own bug or a bad spec value, so it is raised as a :class:`SpecError` naming
    the rendered field.
    """
    from riskgrid.policy.check import check_objects

    config = render_cluster_config(cluster)
    problems = schema_problems(config)
    if problems:
        raise SpecError(
            Problem(source, (), f"rendered ClusterConfig {path or '<root>'}: {msg}")
            for path, msg in problems
        )
    return config, check_objects([config])
