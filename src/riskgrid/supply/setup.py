"""Building a gate from files, and what the gate's verdicts mean for a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from riskgrid.spec.exceptions import load_exceptions
from riskgrid.spec.trust import load_trust_policy
from riskgrid.supply.gate import POLICY_ID, Decision, Gate, external_data


def gate_from_files(trust_policy: str | Path, exceptions: Sequence[str | Path] = ()) -> Gate:
    """A :class:`Gate` for a TrustPolicy file and PolicyException files (bad input: SpecError)."""
    return Gate(load_trust_policy(trust_policy), exceptions=load_exceptions(list(exceptions)))


def tenant_images(tenant: Any) -> list[str]:
    """The images a tenant's work runs in. A RiskJob names no image: its tasks run on the
    tenant's Ray cluster, so the Ray head/worker image is the one every job runs."""
    return [tenant.spec.ray.image]


def verify_tenant(gate: Gate, tenant: Any) -> list[Decision]:
    return gate.verify_many(tenant_images(tenant), tenant=tenant.name, namespace=tenant.namespace)


def rego_parameters(decisions: Sequence[Decision]) -> dict[str, Any]:
    """The RG-IMG-005 parameters that hand the verdicts to the Rego library."""
    return {POLICY_ID: {"enforce": True, "images": external_data(decisions)}}
