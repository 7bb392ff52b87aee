"""The labels every object of a tenant's bundle carries."""

from __future__ import annotations

from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c


def tenant_labels(tenant: Tenant) -> dict[str, str]:
    """Tenant, cost centre and owner labels: chargeback and selectors both key on these."""
    return {
        c.TENANT_LABEL: tenant.name,
        c.COST_CENTRE_LABEL: tenant.spec.cost_centre,
        c.MANAGED_BY_LABEL: c.MANAGED_BY,
        c.PART_OF_LABEL: "riskgrid",
    }


def platform_labels() -> dict[str, str]:
    """The platform's own objects are owned (and paid for) by the platform team."""
    return {
        c.TENANT_LABEL: c.PLATFORM_TENANT,
        c.COST_CENTRE_LABEL: c.PLATFORM_COST_CENTRE,
        c.MANAGED_BY_LABEL: c.MANAGED_BY,
        c.PART_OF_LABEL: "riskgrid",
    }
