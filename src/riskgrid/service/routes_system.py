"""Health, readiness, metrics, who-am-I and the policy dry-run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from riskgrid.service import integrations
from riskgrid.service.app import ApiError, Caller, caller, services
from riskgrid.service.authz import is_platform_admin, tenant_role
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
    401: {"model": ErrorBody, "description": "Missing or invalid token."},
    413: {"model": ErrorBody, "description": "Request body too large."},
    422: {"model": ProblemsBody, "description": "Invalid request (each problem located)."},
    429: {"model": ErrorBody, "description": "Rate limit exceeded."},
}

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["system"])
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": ErrorBody}},
    tags=["system"],
)
def readyz(request: Request) -> Health:
    """The database answers and the schema is migrated."""
    svc = services(request)
    if not request.app.state.ready:
        raise ApiError(503, "starting")
    try:
        with svc.db.session() as s:
            s.execute(text("SELECT 1"))
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
def policy_check(body: PolicyCheckRequest, c: Caller = Depends(caller)) -> PolicyCheckResponse:
    """Dry-run the policy library over posted Kubernetes manifests; nothing is stored."""
    violations, errors = integrations.check(body.objects)
    decision = "deny" if violations or errors else "allow"
    c.svc.metrics.policy_decisions.labels("dry-run", decision).inc()
    return PolicyCheckResponse(
        ok=not violations and not errors, violations=violations, errors=errors
    )
