"""Per-tenant roles from group claims, and what each role may do.

A principal's role in a tenant comes from the tenant spec's ``groups`` (owners/admins →
tenant-admin, developers, viewers; the highest wins); members of the platform-admin group are
platform-admin everywhere. Anyone with no role in a tenant is told the tenant's objects do not
exist — the same answer as for objects that really don't (see routes).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from riskgrid.service.auth import Principal


class Role(IntEnum):
    """Ordered: a higher role may do everything a lower one may."""

    VIEWER = 1
    DEVELOPER = 2
    TENANT_ADMIN = 3
    PLATFORM_ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class Action:
    TENANT_CREATE = "tenant.create"
    TENANT_READ = "tenant.read"
    TENANT_UPDATE = "tenant.update"
    JOB_SUBMIT = "job.submit"
    JOB_READ = "job.read"
    JOB_CANCEL = "job.cancel"
    JOB_RESULTS = "job.results"


#: The lowest role allowed each tenant-scoped action.
MIN_ROLE: dict[str, Role] = {
    Action.TENANT_CREATE: Role.PLATFORM_ADMIN,
    Action.TENANT_READ: Role.VIEWER,
    Action.TENANT_UPDATE: Role.TENANT_ADMIN,
    Action.JOB_SUBMIT: Role.DEVELOPER,
    Action.JOB_READ: Role.VIEWER,
    Action.JOB_CANCEL: Role.DEVELOPER,
    Action.JOB_RESULTS: Role.VIEWER,
}

#: Spec fields a tenant-admin may change on their own tenant; everything else (quotas, egress,
#: images, namespace, owners/admins) needs a platform admin, because it moves the isolation
#: boundary or the tenant's share of the cluster.
TENANT_ADMIN_MUTABLE = (("spec", "groups", "developers"), ("spec", "groups", "viewers"))


def is_platform_admin(principal: Principal, platform_group: str) -> bool:
    return platform_group in principal.groups


def tenant_role(
    principal: Principal, tenant_spec: Mapping[str, Any] | None, platform_group: str
) -> Role | None:
    """The principal's role in a tenant (``tenant_spec`` is the stored Tenant document)."""
    if is_platform_admin(principal, platform_group):
        return Role.PLATFORM_ADMIN
    if tenant_spec is None:
        return None
    groups = tenant_spec.get("spec", {}).get("groups", {})
    mine = principal.groups
    for role, keys in (
        (Role.TENANT_ADMIN, ("owners", "admins")),
        (Role.DEVELOPER, ("developers",)),
        (Role.VIEWER, ("viewers",)),
    ):
        if any(mine.intersection(groups.get(k, [])) for k in keys):
            return role
    return None


def allowed(role: Role | None, action: str) -> bool:
    return role is not None and role >= MIN_ROLE[action]


def _without(doc: Any, paths: tuple[tuple[str, ...], ...]) -> Any:
    """Deep copy of ``doc`` with the given key paths removed."""
    if not isinstance(doc, dict):
        return doc
    out = {k: _without(v, ()) for k, v in doc.items()}
    for path in paths:
        node: Any = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return out


def tenant_admin_may_apply(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when ``new`` differs from ``old`` only in fields a tenant-admin may change."""
    return _without(dict(old), TENANT_ADMIN_MUTABLE) == _without(dict(new), TENANT_ADMIN_MUTABLE)
