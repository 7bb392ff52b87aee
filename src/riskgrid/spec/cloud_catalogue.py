"""The catalogue of cloud services a tenant may ask for (``ServiceAccess``), and its rules.

Each service names the actions each access level grants, how a resource ARN the tenant writes
is parsed and confined to the tenant (its *prefix*), the VPC interface/gateway endpoint its
traffic must use, and the threat-model threat whose controls must all be verified before the
service is offered (:mod:`riskgrid.threats.assurance`). The endpoint ids and CIDRs are those of
the reference VPC (``examples/platform/eks-cluster.yaml``); another VPC edits them here.

Tenant prefixes use separators a tenant name (a DNS label) cannot contain, so that no tenant's
prefix is a prefix of another's: S3 ``BUCKET/<tenant>/…``, SQS ``<tenant>_…``, Secrets Manager
``riskgrid/<tenant>/…``, KMS alias ``alias/riskgrid/<tenant>/…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ACCOUNT = re.compile(r"^[0-9]{12}$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
WILDCARD = re.compile(r"[*?]")


@dataclass(frozen=True)
class Endpoint:
    """The VPC endpoint a service is reached through: egress CIDR and ``aws:SourceVpce``."""

    vpce: str
    cidrs: tuple[str, ...]
    port: int = 443


@dataclass(frozen=True)
class CatalogueService:
    name: str
    title: str
    arn_service: str  # the service part of its ARNs
    regional: bool  # ARNs carry region and account (S3's do not)
    levels: dict[str, tuple[str, ...]]  # access level → IAM actions
    threat: str  # threat-model threat id whose controls must be verified
    endpoint: Endpoint
    resource_help: str
    extra_controls: tuple[str, ...] = field(default=())


CATALOGUE: dict[str, CatalogueService] = {
    s.name: s
    for s in (
        CatalogueService(
            name="s3",
            title="S3 bucket prefix (results, P&L vectors)",
            arn_service="s3",
            regional=False,
            levels={
                "read": ("s3:GetObject", "s3:ListBucket"),
                "write": (
                    "s3:GetObject",
                    "s3:ListBucket",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                ),
            },
            threat="TM-170",
            endpoint=Endpoint("vpce-0a5e3c1d2b4f60789", ("10.40.200.0/26",)),
            resource_help="arn:aws:s3:::BUCKET/<tenant>/PREFIX/",
        ),
        CatalogueService(
            name="sqs",
            title="SQS queue",
            arn_service="sqs",
            regional=True,
            levels={
                "read": (
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ),
                "write": ("sqs:SendMessage", "sqs:GetQueueAttributes"),
            },
            threat="TM-171",
            endpoint=Endpoint("vpce-0b6f4d2e3c5a71890", ("10.40.201.0/27",)),
            resource_help="arn:aws:sqs:REGION:ACCOUNT:<tenant>_QUEUE",
        ),
        CatalogueService(
            name="kms",
            title="KMS key use (envelope encryption of results)",
            arn_service="kms",
            regional=True,
            levels={
                "read": ("kms:Decrypt", "kms:DescribeKey"),
                "write": ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
            },
            threat="TM-172",
            endpoint=Endpoint("vpce-0c7a5e3f4d6b82901", ("10.40.201.32/27",)),
            resource_help="arn:aws:kms:REGION:ACCOUNT:key/KEY-ID + alias alias/riskgrid/<tenant>/…",
        ),
        CatalogueService(
            name="secretsmanager",
            title="Secrets Manager secret path (read only)",
            arn_service="secretsmanager",
            regional=True,
            levels={"read": ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")},
            threat="TM-173",
            endpoint=Endpoint("vpce-0d8b6f4a5e7c93a12", ("10.40.201.64/27",)),
            resource_help="arn:aws:secretsmanager:REGION:ACCOUNT:secret:riskgrid/<tenant>/PATH",
        ),
    )
}


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn:
    """Split an ARN; ``ValueError`` says what is wrong (shape, wildcards in account/region)."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not re.match(r"^aws(-[a-z]+)*$", parts[1]):
        raise ValueError(f"{text!r} is not an ARN (arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE)")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def tenant_prefix(service: str, tenant: str) -> str:
    """The start every resource name of ``tenant`` must have in ``service``."""
    return {
        "s3": f"{tenant}/",
        "sqs": f"{tenant}_",
        "kms": f"alias/riskgrid/{tenant}/",
        "secretsmanager": f"riskgrid/{tenant}/",
    }[service]


def check_resource(
    service: CatalogueService, tenant: str, resource: str, *, account: str, region: str
) -> str | None:
    """Why ``resource`` may not be granted to ``tenant`` (None when it may)."""
    try:
        arn = parse_arn(resource)
    except ValueError as exc:
        return str(exc)
    if arn.service != service.arn_service:
        return f"is an ARN of {arn.service!r}, not of {service.arn_service!r}"
    if service.regional:
        if WILDCARD.search(arn.account) or WILDCARD.search(arn.region):
            return "wildcards in the account or region of an ARN reach other accounts or regions"
        if not ACCOUNT.match(arn.account) or arn.account != account:
            return f"account must be the cluster's account {account}, got {arn.account!r}"
        if not REGION.match(arn.region) or arn.region != region:
            return f"region must be the cluster's region {region}, got {arn.region!r}"
    elif arn.region or arn.account:
        return "S3 ARNs have no region or account (arn:aws:s3:::BUCKET/KEY)"
    prefix = tenant_prefix(service.name, tenant)
    if service.name == "s3":
        bucket, _, key = arn.resource.partition("/")
        if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
            return f"{bucket!r} is not an S3 bucket name (no wildcards)"
        name = key
    elif service.name == "sqs":
        name = arn.resource
    elif service.name == "kms":
        if not re.match(r"^key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                        arn.resource):  # fmt: skip
            return "must name one key by id: key/KEY-ID (no aliases, no wildcards)"
        return None  # the tenant's prefix is on the alias (checked with the grant)
    else:
        if not arn.resource.startswith("secret:"):
            return "must be a secret ARN (…:secret:riskgrid/<tenant>/PATH)"
        name = arn.resource.removeprefix("secret:")
    if WILDCARD.search(name):
        return "no wildcards in the resource name; riskgrid adds the ones a service needs"
    if not name.startswith(prefix) or (name == prefix and service.name != "s3"):
        return f"is outside the tenant's prefix: the name must start with {prefix!r}"
    return None
