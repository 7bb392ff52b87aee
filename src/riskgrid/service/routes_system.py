"""Health, readiness, metrics, who-am-I and the policy dry-run."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskgrid.service import heavy
from riskgrid.service.authz import is_platform_admin, tenant_role
from riskgrid.service.bulkhead import Rejected
from riskgrid.service.deps import (
    ApiError,
    BoundedRoute,
    Caller,
    caller,
    json_body,
    retry_after,
    services,
)
from riskgrid.service.models import TenantRow
from riskgrid.service.schemas import (
    ErrorBody,
    Health,
    Me,
    PolicyCheckRequest,
    PolicyCheckResponse,
    ProblemsBody,
)
from riskgrid.service.workpool import WorkUnavailable

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
    with c.svc.db.read() as s:
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
    openapi_extra=json_body(PolicyCheckRequest),
)
async def policy_check(request: Request, c: Caller = Depends(caller)) -> Response:
    """Dry-run the policy library over posted Kubernetes manifests; nothing is stored.

    Body: a ``PolicyCheckRequest``. Parsed, evaluated and the report serialised in a work
    process, within the caller's concurrency limit (429 beyond it). The report lists at most
    ``policy_report_max`` violations and errors; ``total_violations``, ``total_errors`` and
    ``by_policy`` count all of them.
    """
    cap = c.svc.settings.policy_report_max

    async def dry_run(body: bytes) -> Any:
        # the lane is shared fairly between callers
        return await c.svc.dry_runs.call(c.principal.subject, heavy.policy_report, body, cap)

    try:
        out = await c.svc.bulkheads.run(
            c.principal.subject, "policy-dry-run", dry_run, before=request.body
        )
    except Rejected as exc:
        raise ApiError(429, exc.reason, headers=retry_after(exc.retry_after)) from None
    except WorkUnavailable as exc:
        raise ApiError(503, str(exc), headers=retry_after(5)) from None
    if out[0] == "invalid":
        raise RequestValidationError(out[1])
    if out[0] == "http":
        raise StarletteHTTPException(out[1], out[2])
    _, data, decision = out
    c.svc.metrics.policy_decisions.labels("dry-run", decision).inc()
    return Response(data, media_type="application/json")
