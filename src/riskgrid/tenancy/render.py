"""``Tenant`` → the desk's complete, hardened Kubernetes bundle (plain dicts, no I/O)."""

from __future__ import annotations

from typing import Any

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy.calico import render_tenant_isolation
from riskgrid.tenancy.kueue import render_cluster_queue, render_local_queue
from riskgrid.tenancy.namespace import (
    render_limit_range,
    render_namespace,
    render_resource_quota,
    render_service_accounts,
)
from riskgrid.tenancy.network import render_network_policies
from riskgrid.tenancy.ordering import ordered
from riskgrid.tenancy.ray import render_raycluster
from riskgrid.tenancy.rbac import render_rbac


def render_tenant(tenant: Tenant) -> list[dict[str, Any]]:
    """Every object of the tenant's bundle, in apply order; each labelled with the tenant."""
    objects: list[dict[str, Any]] = [
        render_namespace(tenant),
        render_resource_quota(tenant),
        render_limit_range(tenant),
        *render_service_accounts(tenant),
        *render_rbac(tenant),
        *render_network_policies(tenant),
        render_tenant_isolation(tenant),
        render_cluster_queue(tenant),
        render_local_queue(tenant),
        render_raycluster(tenant),
    ]
    return ordered(objects)


def render_tenants(tenants: list[Tenant]) -> list[dict[str, Any]]:
    """All tenants' bundles together, in one apply order."""
    return ordered([obj for t in tenants for obj in render_tenant(t)])
