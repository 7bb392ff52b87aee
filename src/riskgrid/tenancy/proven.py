"""Verify-then-apply: the one gate every path that applies or stores tenant bundles goes through.

riskgrid promises that a bundle is proven before it is applied. :func:`prove` renders the
platform and every given tenant's bundle, adds the caller's extra objects, and runs the full
:func:`~riskgrid.tenancy.verify.verify` (schema, policy, network isolation) over *all of them
together*; when any guarantee fails it raises :class:`NotProven` carrying the report, and the
caller applies nothing. :func:`apply_proven` and :func:`diff_proven` are the only functions the
CLI uses to talk to a cluster, and the service's tenant onboarding calls :func:`prove` before it
stores a tenant, so no apply path can skip the proof.

What is applied is what was proven: the tenants' bundles plus the extra objects, in apply
order (the platform bundle is proven alongside because the tenants rely on it, and is applied
by its own command).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from riskgrid.spec.errors import RiskgridError
from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy.apply import Applied, apply_objects, diff_objects
from riskgrid.tenancy.verify import VerifyReport, verify


class NotProven(RiskgridError):
    """Verification failed; nothing was applied. ``report`` says which guarantees broke."""

    def __init__(self, report: VerifyReport):
        self.report = report
        lines = [str(p) for p in report.problems]
        super().__init__(
            f"refusing to apply: verification failed ({len(report.problems)} problems; "
            f"tenant pairs isolated {report.tenant_pairs_passed}/{report.tenant_pairs_checked}); "
            "nothing was applied\n" + "\n".join(lines)
        )


def prove(
    tenants: Sequence[Tenant],
    *,
    extra: Sequence[dict[str, Any]] = (),
    gatekeeper: bool = True,
) -> tuple[list[dict[str, Any]], VerifyReport]:
    """Render and verify the tenants with the platform; the objects to apply and the report.

    Raises :class:`NotProven` when any check fails. Only objects that were part of the
    verified world are returned, so the caller cannot apply something the proof did not see.
    """
    from riskgrid.tenancy.platform import render_platform
    from riskgrid.tenancy.render import render_tenants

    bundles = render_tenants(list(tenants))
    world = [*render_platform(tenants, gatekeeper=gatekeeper), *bundles, *extra]
    report = verify(tenants, world)
    if not report.ok:
        raise NotProven(report)
    return [*bundles, *extra], report


def apply_proven(
    tenants: Sequence[Tenant],
    *,
    extra: Sequence[dict[str, Any]] = (),
    kubeconfig: str | None = None,
    context: str | None = None,
    dry_run: bool = False,
    api: Any = None,
    progress: Callable[[Applied], None] | None = None,
) -> list[Applied]:
    """:func:`prove`, then server-side apply what was proven (no request is sent otherwise)."""
    objects, _ = prove(tenants, extra=extra)
    return apply_objects(
        objects,
        kubeconfig=kubeconfig,
        context=context,
        dry_run=dry_run,
        api=api,
        progress=progress,
    )


def diff_proven(
    tenants: Sequence[Tenant],
    *,
    extra: Sequence[dict[str, Any]] = (),
    kubeconfig: str | None = None,
    context: str | None = None,
    api: Any = None,
) -> str:
    """:func:`prove`, then diff what was proven against the cluster (a dry run is a write
    request too: a bundle that is not proven is not sent, even for a dry run)."""
    objects, _ = prove(tenants, extra=extra)
    return diff_objects(objects, kubeconfig=kubeconfig, context=context, api=api)
