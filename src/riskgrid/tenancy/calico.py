"""Calico tier and GlobalNetworkPolicies that keep tenants apart by design.

Kubernetes NetworkPolicies only ever add allowances, and anyone who can write one in a
namespace can open that namespace up. Tenant isolation therefore sits in a Calico tier that
is evaluated before the `default` tier (where NetworkPolicies land) and that tenants cannot
write to: it denies traffic between tenants and to the instance metadata service, and it
caps each tenant's egress at its allow-list plus DNS. Everything else is *Passed* on to the
namespaced policies, which narrow it further.

Objects are rendered as ``projectcalico.org/v3`` (what calicoctl and the Calico API server
accept); their specs are validated against the ``crd.projectcalico.org/v1`` CRD schemas,
which carry the same spec.
"""

from __future__ import annotations

from typing import Any

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c
from riskgrid.tenancy.labels import platform_labels, tenant_labels

CALICO_API = "projectcalico.org/v3"
#: Order of the cluster-wide metadata guard inside the tier, before the per-tenant policies.
GUARD_ORDER = 10
TENANT_POLICY_ORDER = 100


def _is_tenant(name: str) -> str:
    return f"{c.TENANT_LABEL} == '{name}'"


def _other_tenant(name: str) -> str:
    # Tenant namespaces are marked by the isolation label; `!=` on the owner label then picks
    # every tenant but this one (the platform namespace has an owner but is not a tenant).
    return f"{c.ISOLATION_LABEL} == '{c.ISOLATION_TENANT}' && {c.TENANT_LABEL} != '{name}'"


def tier_policy_name(name: str) -> str:
    """Calico names a tiered policy ``<tier>.<name>``."""
    return f"{c.TIER_NAME}.{name}"


def render_tier() -> dict[str, Any]:
    return {
        "apiVersion": CALICO_API,
        "kind": "Tier",
        "metadata": {"name": c.TIER_NAME, "labels": platform_labels()},
        # Fail closed: traffic a policy in this tier selects but no rule matches is denied.
        "spec": {"order": c.TIER_ORDER, "defaultAction": "Deny"},
    }


def render_metadata_guard() -> dict[str, Any]:
    """Deny the metadata service to every tenant namespace, even one missing its own policy.

    No catch-all rule on purpose: a ``Pass`` here would skip the rest of the tier (Calico's
    Pass jumps to the next tier), including the tenant's own policy. Traffic no rule matches
    falls through to the tenant's policy; a tenant namespace *without* its policy reaches the
    tier's ``defaultAction: Deny`` — fail closed.
    """
    return {
        "apiVersion": CALICO_API,
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": tier_policy_name("deny-metadata"), "labels": platform_labels()},
        "spec": {
            "tier": c.TIER_NAME,
            "order": GUARD_ORDER,
            "namespaceSelector": f"{c.ISOLATION_LABEL} == '{c.ISOLATION_TENANT}'",
            "types": ["Egress"],
            "egress": [{"action": "Deny", "destination": {"nets": list(c.METADATA_CIDRS)}}],
        },
    }


def render_tenant_isolation(tenant: Tenant) -> dict[str, Any]:
    """The tenant's policy in the isolation tier (cluster-scoped; rendered with its bundle)."""
    me = tenant.name
    dns_dest = {
        "namespaceSelector": f"{c.NAMESPACE_NAME_LABEL} == '{c.DNS_NAMESPACE}'",
        "selector": " && ".join(f"{k} == '{v}'" for k, v in c.DNS_POD_LABELS.items()),
        "ports": [53],
    }
    egress: list[dict[str, Any]] = [
        {"action": "Deny", "destination": {"nets": list(c.METADATA_CIDRS)}},
        {"action": "Deny", "destination": {"namespaceSelector": _other_tenant(me)}},
        {"action": "Pass", "destination": {"namespaceSelector": _is_tenant(me)}},
        {"action": "Pass", "protocol": "UDP", "destination": dict(dns_dest)},
        {"action": "Pass", "protocol": "TCP", "destination": dict(dns_dest)},
    ]
    for rule in tenant.spec.egress:
        for port in rule.ports:
            spec_port: int | str = (
                port.port if port.end_port is None else f"{port.port}:{port.end_port}"
            )
            egress.append(
                {
                    "action": "Pass",
                    "protocol": port.protocol,
                    "destination": {"nets": list(rule.cidrs), "ports": [spec_port]},
                }
            )
    # Anything not listed above leaves the tenant nowhere, whatever its namespace says.
    egress.append({"action": "Deny"})
    return {
        "apiVersion": CALICO_API,
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": tier_policy_name(f"tenant-{me}"), "labels": tenant_labels(tenant)},
        "spec": {
            "tier": c.TIER_NAME,
            "order": TENANT_POLICY_ORDER,
            "namespaceSelector": _is_tenant(me),
            "types": ["Ingress", "Egress"],
            "ingress": [
                {"action": "Deny", "source": {"namespaceSelector": _other_tenant(me)}},
                {"action": "Pass"},
            ],
            "egress": egress,
        },
    }
