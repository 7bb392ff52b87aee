"""Health, readiness, metrics, who-am-I and the policy dry-run."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from riskgrid.service import integrations
from riskgrid.service.authz import is_platform_admin, tenant_role
from riskgrid.service.bulkhead import Rejected
from riskgrid.service.deps import ApiError, BoundedRoute, Caller, caller, retry_after, services
from riskgrid.service.models import TenantRow
from riskgrid.service.schemas import (
    ErrorBody,
    Health,
    Me,
    PolicyCheckRequest,
    PolicyCheckResponse,
    ProblemsBody,
)

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request (a body that is not JSON)."},
    401: {"model": ErrorBody, "description": "Missing or invalid token."},
    413: {"model": ErrorBody, "description": "Request body too large."},
    422: {"model": ProblemsBody, "description": "Invalid request (each problem located)."},
    429: {
        "model": ErrorBody,
        "description": "Rate or concurrency limit exceeded; retry after `Retry-After` seconds.",
    },
    503: {"model": ErrorBody, "description": "Signing keys unavailable (identity provider)."},
}

router = APIRouter(route_class=BoundedRoute)


@router.get("/healthz", response_model=Health, tags=["system"])
async def healthz() -> Health:
    """The process is up (answered on the event loop: no thread, no database)."""
    return Health(status="ok")


def _probe(svc: Any) -> None:
    with svc.db.probe() as conn:
        conn.execute(text("SELECT 1"))


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": ErrorBody}},
    tags=["system"],
)
async def readyz(request: Request) -> Health:
    """The database answers (within 0.5 s) and the schema is migrated.

    The probe has its own connection and its own thread, so a flood that holds every pooled
    connection and worker thread does not make the replica look dead.
    """
    svc = services(request)
    if not request.app.state.ready:
        raise ApiError(503, "starting")
    limiter = request.app.state.probe_limiter
    try:
        with anyio.fail_after(0.5):
            await anyio.to_thread.run_sync(_probe, svc, limiter=limiter, abandon_on_cancel=True)
    except TimeoutError:
        raise ApiError(503, "database slow to answer") from None
    except Exception:
        raise ApiError(503, "database unavailable") from None
    return Health(status="ready")


@router.get(
    "/metrics",
    tags=["system"],
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    data = generate_latest(services(request).metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/me", response_model=Me, responses=AUTH_ERRORS, tags=["system"])
def me(c: Caller = Depends(caller)) -> Me:
    """Who the token says you are, and your role in each tenant."""
    group = c.svc.settings.platform_admin_group
    with c.svc.db.session() as s:
        tenants = list(s.scalars(select(TenantRow).order_by(TenantRow.name)))
    roles = {}
    for t in tenants:
        role = tenant_role(c.principal, t.spec, group)
        if role is not None:
            roles[t.name] = role.label
    return Me(
        subject=c.principal.subject,
        groups=sorted(c.principal.groups),
        platform_admin=is_platform_admin(c.principal, group),
        tenants=roles,
    )


@router.post(
    "/v1/policy/check",
    response_model=PolicyCheckResponse,
    responses=AUTH_ERRORS,
    tags=["policy"],
)
async def policy_check(body: PolicyCheckRequest, c: Caller = Depends(caller)) -> Response:
    """Dry-run the policy library over posted Kubernetes manifests; nothing is stored.

    Evaluated (and the report serialised) in the work pool within the caller's concurrency
    limit (429 beyond it). The report lists at most ``policy_report_max`` violations and
    errors; ``total_violations``, ``total_errors`` and ``by_policy`` count all of them.
    """
    cap = c.svc.settings.policy_report_max
    try:
        data, decision = await c.svc.bulkheads.run(
            c.principal.subject, "policy-dry-run", _policy_report, body.objects, cap
        )
    except Rejected as exc:
        raise ApiError(429, exc.reason, headers=retry_after(exc.retry_after)) from None
    c.svc.metrics.policy_decisions.labels("dry-run", decision).inc()
    return Response(data, media_type="application/json")


def _policy_report(objects: list[dict[str, Any]], cap: int) -> tuple[bytes, str]:
    violations, errors = integrations.check(objects)
    by_policy: dict[str, int] = {}
    for v in violations:
        by_policy[v.policy_id] = by_policy.get(v.policy_id, 0) + 1
    report = PolicyCheckResponse(
        ok=not violations and not errors,
        violations=violations[:cap],
        errors=errors[:cap],
        total_violations=len(violations),
        total_errors=len(errors),
        truncated=len(violations) > cap or len(errors) > cap,
        by_policy=by_policy,
    )
    return report.model_dump_json().encode(), "deny" if violations or errors else "allow"
