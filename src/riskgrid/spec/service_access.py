"""``ServiceAccess``: a tenant's request for cloud services from the catalogue.

The shape is checked here (strict pydantic); the service, level and resource are checked
against the catalogue (:mod:`riskgrid.spec.cloud_catalogue`) by :func:`check_access`, which
needs the cluster's account and region. Assurance (is the service offered at all) is decided
by :mod:`riskgrid.threats.assurance` from test evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from riskgrid.spec.base import DnsLabel, Resource, Strict
from riskgrid.spec.cloud_catalogue import CATALOGUE, check_resource, tenant_prefix
from riskgrid.spec.errors import Problem, SpecError
from riskgrid.spec.loading import load_resource


class Grant(Strict):
    service: str = Field(description="A catalogue service: s3, sqs, kms, secretsmanager.")
    access: str = Field(description="An access level the service offers (read, write).")
    resource: str = Field(description="The ARN asked for, inside the tenant's prefix.")
    alias: str | None = Field(
        default=None, description="KMS only: the key's alias, alias/riskgrid/<tenant>/NAME."
    )
    justification: str = Field(min_length=20, description="Why the desk needs it (reviewed).")


class ServiceAccessSpec(Strict):
    tenant: DnsLabel = Field(description="The Tenant this access is for.")
    service_account: Literal["ray-worker", "ray-head"] = Field(
        "ray-worker", alias="serviceAccount", description="The tenant's pods that get the role."
    )
    grants: list[Grant] = Field(min_length=1)


class ServiceAccess(Resource):
    """Cloud services one tenant's workloads may use, and why."""

    kind: Literal["ServiceAccess"]
    spec: ServiceAccessSpec


def load_service_access(path: str | Path) -> ServiceAccess:
    return load_resource(path, ServiceAccess)


def check_access(access: ServiceAccess, source: str, *, account: str, region: str) -> None:
    """Every grant against the catalogue; :class:`SpecError` listing every bad field."""
    problems: list[Problem] = []
    tenant = access.spec.tenant
    for i, g in enumerate(access.spec.grants):
        loc: tuple[str | int, ...] = ("spec", "grants", i)
        service = CATALOGUE.get(g.service)
        if service is None:
            known = ", ".join(sorted(CATALOGUE))
            problems.append(
                Problem(source, (*loc, "service"), f"unknown service {g.service!r}; known: {known}")
            )
            continue
        if g.access not in service.levels:
            offered = ", ".join(service.levels)
            problems.append(
                Problem(
                    source,
                    (*loc, "access"),
                    f"{g.service} does not offer access level {g.access!r}; offered: {offered}",
                )
            )
        why = check_resource(service, tenant, g.resource, account=account, region=region)
        if why:
            problems.append(Problem(source, (*loc, "resource"), why))
        if g.service == "kms":
            prefix = tenant_prefix("kms", tenant)
            if g.alias is None or not g.alias.startswith(prefix) or g.alias == prefix:
                problems.append(
                    Problem(
                        source, (*loc, "alias"), f"KMS grants need the key's alias {prefix}NAME"
                    )
                )
            elif "*" in g.alias or "?" in g.alias:
                problems.append(Problem(source, (*loc, "alias"), "no wildcards in the alias"))
        elif g.alias is not None:
            problems.append(Problem(source, (*loc, "alias"), "only KMS grants take an alias"))
    if problems:
        raise SpecError(problems)
