"""``ServiceAccess`` → the tenant's AWS access as Kubernetes objects (ACK) plus its egress.

For one tenant's service account this renders, labelled and namespaced like the rest of the
bundle:

- an ACK IAM ``Policy`` (``iam.services.k8s.aws/v1alpha1``): least privilege — only the
  actions of the granted level, only the tenant's resources, and on every statement the
  conditions ``aws:SourceVpce`` (the service's VPC endpoint) and
  ``aws:PrincipalTag/kubernetes-namespace`` (the session tag EKS Pod Identity sets); S3 writes
  also require SSE-KMS, S3 listing is confined by ``s3:prefix``, KMS use by ``kms:ResourceAliases``;
- an ACK IAM ``Role`` whose trust policy admits only EKS Pod Identity
  (``pods.eks.amazonaws.com``) from this account and cluster, for this namespace and service
  account (``aws:RequestTag/kubernetes-*``), with the policy attached by reference;
- an ACK EKS ``PodIdentityAssociation`` binding the service account to the role;
- and, through :func:`with_service_egress`, the tenant's egress allow-list gains each granted
  service's VPC endpoint CIDR on 443, so the Calico tier and NetworkPolicies allow exactly it.

Nothing here talks to AWS: the objects are data for the ACK controllers (or a reviewer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from riskgrid.spec.cloud_catalogue import CATALOGUE, parse_arn
from riskgrid.spec.eks import EksCluster
from riskgrid.spec.service_access import Grant, ServiceAccess
from riskgrid.spec.tenant import EgressPort, EgressRule, Tenant
from riskgrid.tenancy.labels import tenant_labels

ACK_IAM = "iam.services.k8s.aws/v1alpha1"
ACK_EKS = "eks.services.k8s.aws/v1alpha1"
ROLE_PATH = "/riskgrid/tenants/"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


def role_name(tenant: Tenant, access: ServiceAccess) -> str:
    return f"riskgrid-{tenant.name}-{access.spec.service_account}"


def role_arn(tenant: Tenant, access: ServiceAccess, cluster: EksCluster) -> str:
    partition = cluster.spec.kms_key_arn.split(":")[1]
    return f"arn:{partition}:iam::{cluster.spec.account}:role{ROLE_PATH}{role_name(tenant, access)}"


def _statements(g: Grant, tenant: Tenant, sid: str) -> list[dict[str, Any]]:
    """The Allow statements for one grant (one or two: S3 listing is on the bucket)."""
    service = CATALOGUE[g.service]
    actions = list(service.levels[g.access])
    base = {
        "StringEquals": {
            "aws:SourceVpce": service.endpoint.vpce,
            "aws:PrincipalTag/kubernetes-namespace": tenant.namespace,
        }
    }
    if g.service == "s3":
        arn = parse_arn(g.resource)
        bucket, _, key = arn.resource.partition("/")
        prefix = key if key.endswith("/") else f"{key}/"
        bucket_arn = f"arn:{arn.partition}:s3:::{bucket}"
        out = [
            {
                "Sid": f"{sid}List",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {**base, "StringLike": {"s3:prefix": [f"{prefix}*"]}},
            },
            {
                "Sid": f"{sid}Read",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{prefix}*"],
                "Condition": base,
            },
        ]
        if "s3:PutObject" in actions:
            cond = {
                "StringEquals": {
                    **base["StringEquals"],
                    "s3:x-amz-server-side-encryption": "aws:kms",
                }
            }
            out.append(
                {
                    "Sid": f"{sid}Write",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": [f"{bucket_arn}/{prefix}*"],
                    "Condition": cond,
                }
            )
            # Not with the SSE condition: AbortMultipartUpload requests carry no encryption
            # header, so the condition would never match (parliament found this).
            out.append(
                {
                    "Sid": f"{sid}Abort",
                    "Effect": "Allow",
                    "Action": ["s3:AbortMultipartUpload"],
                    "Resource": [f"{bucket_arn}/{prefix}*"],
                    "Condition": base,
                }
            )
        return out
    resource = g.resource
    condition: dict[str, Any] = dict(base)
    if g.service == "secretsmanager":
        resource = f"{g.resource}-??????"  # Secrets Manager appends six random characters
    if g.service == "kms":
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": [g.alias]}
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": [resource],
            "Condition": condition,
        }
    ]


def permission_policy(tenant: Tenant, access: ServiceAccess) -> dict[str, Any]:
    """The least-privilege IAM policy document for ``access``."""
    statements: list[dict[str, Any]] = []
    for i, g in enumerate(access.spec.grants):
        statements.extend(_statements(g, tenant, f"G{i}{g.service.capitalize()}"))
    return {"Version": "2012-10-17", "Statement": statements}


def trust_policy(tenant: Tenant, access: ServiceAccess, cluster: EksCluster) -> dict[str, Any]:
    """Only EKS Pod Identity, for this cluster, namespace and service account, may assume."""
    partition = cluster.spec.kms_key_arn.split(":")[1]
    cluster_arn = (
        f"arn:{partition}:eks:{cluster.spec.region}:{cluster.spec.account}:"
        f"cluster/{cluster.metadata.name}"
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": cluster.spec.account,
                        "aws:RequestTag/kubernetes-namespace": tenant.namespace,
                        "aws:RequestTag/kubernetes-service-account": access.spec.service_account,
                    },
                    "ArnEquals": {"aws:SourceArn": cluster_arn},
                },
            }
        ],
    }


def _doc(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2, sort_keys=True)


def render_service_access(
    tenant: Tenant, access: ServiceAccess, cluster: EksCluster
) -> list[dict[str, Any]]:
    """The ACK Policy, Role and PodIdentityAssociation for one ``ServiceAccess`` (pure)."""
    name = role_name(tenant, access)
    labels = tenant_labels(tenant)
    justification = "; ".join(
        f"{g.service}:{g.access}: {g.justification}" for g in access.spec.grants
    )
    meta = {"namespace": tenant.namespace, "labels": labels}
    tags = [
        {"key": "riskgrid.dev/tenant", "value": tenant.name},
        {"key": "riskgrid.dev/service-access", "value": access.metadata.name},
    ]
    return [
        {
            "apiVersion": ACK_IAM,
            "kind": "Policy",
            "metadata": {
                **meta,
                "name": name,
                "annotations": {"riskgrid.dev/justification": justification},
            },
            "spec": {
                "name": name,
                "path": ROLE_PATH,
                "description": f"riskgrid {tenant.name}: {access.metadata.name}",
                "policyDocument": _doc(permission_policy(tenant, access)),
                "tags": tags,
            },
        },
        {
            "apiVersion": ACK_IAM,
            "kind": "Role",
            "metadata": {**meta, "name": name},
            "spec": {
                "name": name,
                "path": ROLE_PATH,
                "description": f"riskgrid {tenant.name}/{access.spec.service_account}",
                "assumeRolePolicyDocument": _doc(trust_policy(tenant, access, cluster)),
                "maxSessionDuration": 3600,
                "policyRefs": [{"from": {"name": name}}],
                "tags": tags,
            },
        },
        {
            "apiVersion": ACK_EKS,
            "kind": "PodIdentityAssociation",
            "metadata": {**meta, "name": name},
            "spec": {
                "clusterName": cluster.metadata.name,
                "namespace": tenant.namespace,
                "serviceAccount": access.spec.service_account,
                "roleARN": role_arn(tenant, access, cluster),
                "tags": {"riskgrid.dev/tenant": tenant.name},
            },
        },
    ]


def with_service_egress(tenant: Tenant, accesses: Sequence[ServiceAccess]) -> Tenant:
    """``tenant`` with each granted service's VPC endpoint added to its egress allow-list."""
    services = sorted({g.service for a in accesses for g in a.spec.grants})
    extra = [
        EgressRule.model_validate(
            {
                "description": f"{s} VPC endpoint {CATALOGUE[s].endpoint.vpce} (ServiceAccess)",
                "cidrs": list(CATALOGUE[s].endpoint.cidrs),
                "ports": [EgressPort(port=CATALOGUE[s].endpoint.port).model_dump(by_alias=True)],
            }
        )
        for s in services
    ]
    if not extra:
        return tenant
    spec = tenant.spec.model_copy(update={"egress": [*tenant.spec.egress, *extra]})
    return tenant.model_copy(update={"spec": spec})


def plan_access(
    tenants: Sequence[Tenant],
    accesses: Sequence[tuple[ServiceAccess, str]],
    cluster: EksCluster,
    unassured: dict[str, list[str]],
) -> tuple[list[Tenant], list[dict[str, Any]]]:
    """Check every request and render it: the tenants with their service egress, and the
    access objects. ``accesses`` are ``(resource, source file)``; ``unassured`` maps a catalogue
    service to the reasons it is not assured (absent or empty: assured). Raises
    :class:`~riskgrid.spec.errors.SpecError` naming file and field for every refusal, before
    anything is rendered.
    """
    from riskgrid.spec.errors import Problem, SpecError
    from riskgrid.spec.service_access import check_access

    by_name = {t.name: t for t in tenants}
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for access, source in accesses:
        if access.spec.tenant not in by_name:
            problems.append(
                Problem(source, ("spec", "tenant"), f"no tenant {access.spec.tenant!r} given")
            )
            continue
        key = (access.spec.tenant, access.spec.service_account)
        if key in seen:
            problems.append(
                Problem(
                    source,
                    ("spec", "serviceAccount"),
                    f"{key[0]}/{key[1]} already has a ServiceAccess in {seen[key]}; "
                    "put every grant of one service account in one resource",
                )
            )
        seen.setdefault(key, source)
        try:
            check_access(access, source, account=cluster.spec.account, region=cluster.spec.region)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        for i, g in enumerate(access.spec.grants):
            reasons = unassured.get(g.service)
            if reasons:
                problems.append(
                    Problem(
                        source,
                        ("spec", "grants", i, "service"),
                        f"{g.service} is not an assured service; missing controls: "
                        + "; ".join(reasons),
                    )
                )
    if problems:
        raise SpecError(problems)
    objects: list[dict[str, Any]] = []
    effective: list[Tenant] = []
    for t in tenants:
        mine = [a for a, _ in accesses if a.spec.tenant == t.name]
        effective.append(with_service_egress(t, mine))
        for a in mine:
            objects.extend(render_service_access(t, a, cluster))
    return effective, objects
