"""Tenant onboarding: create, list, get, update — each with its rendered bundle and proof."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from riskgrid.service import integrations
from riskgrid.service.authz import (
    Action,
    Role,
    allowed,
    is_platform_admin,
    tenant_admin_may_apply,
    tenant_role,
)
from riskgrid.service.deps import NOT_FOUND, BoundedRoute, Caller, caller
from riskgrid.service.models import TenantRow, as_utc, utcnow
from riskgrid.service.routes_system import AUTH_ERRORS
from riskgrid.service.schemas import (
    ErrorBody,
    ProblemsBody,
    TenantList,
    TenantSummary,
    TenantView,
    Verification,
)
from riskgrid.spec.tenant import Tenant

router = APIRouter(prefix="/v1/tenants", tags=["tenants"], route_class=BoundedRoute)


def _guard(value: Any, handler: ValidatorFunctionWrapHandler) -> Tenant:
    """A validator that fails with something other than ValueError is still bad input (422),
    not a server error (e.g. a quantity too large for exact decimal arithmetic)."""
    try:
        return handler(value)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValueError(f"invalid tenant: {type(exc).__name__}") from None


TenantBody = Annotated[Tenant, WrapValidator(_guard)]

TenantName = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]

ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    403: {"model": ErrorBody, "description": "Your role does not allow this."},
    404: {"model": ErrorBody, "description": "No such tenant (or not yours: same answer)."},
    409: {"model": ErrorBody, "description": "Name or namespace already taken."},
}


def tenant_doc(tenant: Tenant) -> dict[str, Any]:
    return tenant.model_dump(mode="json", by_alias=True, exclude_none=True)


@lru_cache(maxsize=128)
def _rendered(doc_json: str) -> tuple[list[dict[str, Any]], bool, dict[str, Any]]:
    tenant = Tenant.model_validate(json.loads(doc_json))
    bundle = integrations.render(tenant)
    ok, report = integrations.verify(tenant)
    return bundle, ok, report


@lru_cache(maxsize=32)
def _proved_together(doc_json: str, others_json: str) -> tuple[bool, dict[str, Any]]:
    tenant = Tenant.model_validate(json.loads(doc_json))
    others = [Tenant.model_validate(o) for o in json.loads(others_json)]
    return integrations.verify(tenant, others)


def rendered(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, dict[str, Any]]:
    """Bundle and verification of a stored tenant document (memoised: rendering is pure)."""
    return _rendered(json.dumps(doc, sort_keys=True))


def summary(row: TenantRow, role: Role) -> TenantSummary:
    spec = row.spec.get("spec", {})
    return TenantSummary(
        name=row.name,
        namespace=spec.get("namespace") or row.name,
        generation=row.generation,
        role=role.label,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def view(row: TenantRow, role: Role) -> TenantView:
    bundle, ok, report = rendered(row.spec)
    return TenantView(
        **summary(row, role).model_dump(),
        tenant=row.spec,
        bundle=bundle,
        verification=Verification(ok=ok, report=report),
    )


def _namespace(doc: dict[str, Any]) -> str:
    return doc.get("spec", {}).get("namespace") or doc["metadata"]["name"]


def _check_namespace_free(c: Caller, action: str, doc: dict[str, Any]) -> None:
    ns = _namespace(doc)
    name = doc["metadata"]["name"]
    with c.svc.db.session() as s:
        others = list(s.scalars(select(TenantRow).where(TenantRow.name != name)))
    # (denials are audited outside the session: SQLite has one writer at a time)
    if any(_namespace(o.spec) == ns for o in others):
        raise c.deny(
            action, 409, f"namespace {ns!r} is already used by another tenant", tenant=name
        )


def _proved(c: Caller, action: str, doc: dict[str, Any]) -> None:
    """Refuse to store a tenant whose bundle fails verification together with the platform and
    every other stored tenant (:func:`riskgrid.tenancy.proven.prove`); nothing is half-written.
    """
    name = doc["metadata"]["name"]
    with c.svc.db.session() as s:
        others = [r.spec for r in s.scalars(select(TenantRow).where(TenantRow.name != name))]
    _, ok, report = rendered(doc)
    if ok:
        key = json.dumps(sorted(others, key=lambda o: o["metadata"]["name"]), sort_keys=True)
        ok, report = _proved_together(json.dumps(doc, sort_keys=True), key)
    if not ok:
        raise c.deny(
            action,
            422,
            "the tenant's rendered bundle failed verification",
            tenant=doc["metadata"]["name"],
            extra={"verification": report},
        )


@router.post(
    "",
    status_code=201,
    response_model=TenantView,
    responses={**ERRORS, 422: {"model": ProblemsBody, "description": "Invalid or unprovable."}},
)
def create_tenant(body: TenantBody, c: Caller = Depends(caller)) -> TenantView:
    """Onboard a tenant (platform-admin)."""
    name = body.name
    if not is_platform_admin(c.principal, c.svc.settings.platform_admin_group):
        raise c.deny(Action.TENANT_CREATE, 403, "only platform admins create tenants", tenant=name)
    doc = tenant_doc(body)
    with c.svc.db.session() as s:
        exists = s.get(TenantRow, name) is not None
    if exists:
        raise c.deny(Action.TENANT_CREATE, 409, f"tenant {name!r} already exists", tenant=name)
    _check_namespace_free(c, Action.TENANT_CREATE, doc)
    _proved(c, Action.TENANT_CREATE, doc)
    now = utcnow()
    row = TenantRow(
        name=name,
        spec=doc,
        generation=1,
        created_at=now,
        created_by=c.principal.subject,
        updated_at=now,
        updated_by=c.principal.subject,
    )
    try:
        with c.svc.db.session() as s:
            s.add(row)
    except IntegrityError:  # lost a race with another create of the same name
        raise c.deny(
            Action.TENANT_CREATE, 409, f"tenant {name!r} already exists", tenant=name
        ) from None
    c.audit(Action.TENANT_CREATE, "allow", tenant=name, obj=f"tenant/{name}")
    return view(row, Role.PLATFORM_ADMIN)


@router.get("", response_model=TenantList, responses=AUTH_ERRORS)
def list_tenants(c: Caller = Depends(caller)) -> TenantList:
    """Tenants you have a role in (platform admins: all)."""
    group = c.svc.settings.platform_admin_group
    with c.svc.db.session() as s:
        rows = list(s.scalars(select(TenantRow).order_by(TenantRow.name)))
    items = []
    for row in rows:
        role = tenant_role(c.principal, row.spec, group)
        if role is not None:
            items.append(summary(row, role))
    return TenantList(items=items)


def _tenant_row(c: Caller, name: str) -> TenantRow | None:
    with c.svc.db.read() as s:
        return tenant_row_in(c, s, name)


def tenant_row_in(c: Caller, s: Any, name: str) -> TenantRow | None:
    """The stored tenant, read in ``s`` (a read session). Its version (generation and
    timestamps: a small read) is checked on every call; the row itself, with its spec, is
    loaded only when that version is new to this process, so every replica sees every update
    at once."""
    cache = c.svc.tenant_rows
    cols = (TenantRow.generation, TenantRow.created_at, TenantRow.updated_at)
    version = s.execute(select(*cols).where(TenantRow.name == name)).first()
    if version is None:
        return None
    key = (name, *version)
    row: TenantRow | None = cache.get(key)
    if row is None:
        row = s.get(TenantRow, name)
        if row is None:
            return None
        cache[key] = row
        while len(cache) > 1024:  # bounded: the oldest entries go first
            del cache[next(iter(cache))]
    return row


def load_visible(c: Caller, name: str, action: str) -> tuple[TenantRow, Role]:
    """The tenant and the caller's role, or the same 404 whether absent or not the caller's."""
    return visible(c, _tenant_row(c, name), name, action)


def visible(c: Caller, row: TenantRow | None, name: str, action: str) -> tuple[TenantRow, Role]:
    """``row`` (tenant ``name`` as read) and the caller's role, or the same 404 whether absent
    or not the caller's. Called outside any session: a denial is audited."""
    role = tenant_role(c.principal, row.spec if row else None, c.svc.settings.platform_admin_group)
    if row is None or role is None:
        reason = "absent" if row is None else "no role in tenant"
        raise c.deny(action, 404, NOT_FOUND, tenant=name, obj=f"tenant/{name}", reason=reason)
    return row, role


@router.get("/{name}", response_model=TenantView, responses=ERRORS)
def get_tenant(name: TenantName, c: Caller = Depends(caller)) -> TenantView:
    """A tenant with its rendered bundle and verification result."""
    row, role = load_visible(c, name, Action.TENANT_READ)
    return view(row, role)


@router.put(
    "/{name}",
    response_model=TenantView,
    responses={**ERRORS, 422: {"model": ProblemsBody, "description": "Invalid or unprovable."}},
)
def update_tenant(name: TenantName, body: TenantBody, c: Caller = Depends(caller)) -> TenantView:
    """Replace a tenant's spec. Tenant admins may change only developers/viewers groups."""
    action = Action.TENANT_UPDATE
    row, role = load_visible(c, name, action)
    obj = f"tenant/{name}"
    if not allowed(role, action):
        raise c.deny(
            action, 403, f"role {role.label} may not update the tenant", tenant=name, obj=obj
        )
    if body.name != name:
        raise c.deny(
            action, 422, "metadata.name must match the tenant in the URL", tenant=name, obj=obj
        )
    doc = tenant_doc(body)
    if role < Role.PLATFORM_ADMIN and not tenant_admin_may_apply(row.spec, doc):
        raise c.deny(
            action,
            403,
            "tenant admins may change only spec.groups.developers and spec.groups.viewers",
            tenant=name,
            obj=obj,
        )
    _check_namespace_free(c, action, doc)
    _proved(c, action, doc)
    with c.svc.db.session() as s:
        current = s.get(TenantRow, name)
        assert current is not None
        current.spec = doc
        current.generation = current.generation + 1
        current.updated_at = utcnow()
        current.updated_by = c.principal.subject
        row = current
    c.audit(action, "allow", tenant=name, obj=obj, detail={"generation": row.generation})
    return view(row, role)
