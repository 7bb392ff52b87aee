"""Platform admins' pages: tenants (bundles, verification, isolation, change diff) and posture."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from riskgrid.service import routes_tenants
from riskgrid.service.deps import Caller, services
from riskgrid.service.ui import posture
from riskgrid.service.ui.pages import TenantName, check_csrf, me_of, page, signed_in
from riskgrid.service.ui.sessions import Session
from riskgrid.service.ui.web import UiError, render, threat_cache

router = APIRouter()


def _admin(request: Request) -> tuple[Session, Caller, dict[str, Any]]:
    session, c = signed_in(request)
    me = me_of(c)
    if not me["platform_admin"]:
        c.audit("ui.admin-page", "deny", obj=request.url.path, detail={"status": 403})
        raise UiError(403, "Only platform admins can open this page.")
    return session, c, me


def _isolation(specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The isolation matrix of every stored tenant proven together (tenancy.proven.prove)."""
    from riskgrid.spec.tenant import Tenant
    from riskgrid.tenancy.proven import NotProven, prove

    tenants = [Tenant.model_validate(d) for d in specs.values()]
    if not tenants:
        return {"names": [], "cells": {}, "checked": 0, "passed": 0, "ok": True}
    try:
        report = prove(tenants)[1]
    except NotProven as exc:
        report = exc.report
    data = report.to_dict()
    pairs = data.get("tenantPairs") or {}
    failing = pairs.get("failing") or []
    names = sorted(specs)
    cells: dict[str, dict[str, int]] = {a: dict.fromkeys(names, 0) for a in names}
    for pair in failing:  # [from tenant, to tenant]: isolation does not hold that way
        a, b = (pair[0], pair[1]) if len(pair) == 2 else (None, None)
        if a in cells and b in cells[a]:
            cells[a][b] = 1
    return {
        "names": names,
        "cells": cells,
        "checked": pairs.get("checked", 0),
        "passed": pairs.get("passed", 0),
        "failing": failing,
        "ok": bool(data.get("ok")),
    }


def _tenant_views(c: Caller, me: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in me["tenants"]:
        v = routes_tenants.get_tenant(name, c).model_dump(mode="json")
        kinds: dict[str, int] = {}
        for obj in v["bundle"]:
            kinds[obj.get("kind", "?")] = kinds.get(obj.get("kind", "?"), 0) + 1
        v["kinds"] = dict(sorted(kinds.items()))
        out.append(v)
    return out


@router.get("/tenants")
@page
def tenants_page(request: Request) -> Response:
    session, c, me = _admin(request)
    views = _tenant_views(c, me)
    iso = _isolation({v["name"]: v["tenant"] for v in views})
    return render(request, "tenants.html", session=session, me=me, tenants=views, iso=iso)


def _bundle_diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    import difflib

    import yaml

    def text(objs: list[dict[str, Any]]) -> list[str]:
        return yaml.safe_dump_all(objs, sort_keys=True).splitlines(keepends=True)

    return "".join(difflib.unified_diff(text(old), text(new), "stored", "proposed"))


@router.post("/tenants/{name}/diff")
@page
async def tenant_diff(request: Request, name: TenantName) -> Response:
    """What applying an uploaded Tenant would change: the rendered bundle's diff against the
    stored one, and the proposed tenant's verification (nothing is stored)."""
    from riskgrid.spec.errors import SpecError
    from riskgrid.spec.tenant import Tenant
    from riskgrid.spec.yamlbounds import load_spec_file

    session, c, me = await anyio.to_thread.run_sync(_admin, request)
    limit = services(request).settings.ui_upload_max_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > limit:
        raise UiError(413, f"Upload too large or of unknown size; the limit is {limit:,} bytes.")
    form = await request.form(max_files=1, max_fields=4, max_part_size=limit)
    check_csrf(request, session, c, form.get("csrf"))
    up = form.get("tenant")
    if not hasattr(up, "read"):
        raise UiError(422, "tenant: choose a Tenant YAML file")
    raw = await up.read()  # type: ignore[union-attr]

    def work() -> Response:
        current_view = routes_tenants.get_tenant(name, c)
        try:
            docs = load_spec_file(raw.decode("utf-8"), "tenant.yaml")
            if len(docs) != 1 or not isinstance(docs[0], dict):
                raise SpecError.one("tenant.yaml", "must be one YAML mapping (a Tenant)")
            tenant = Tenant.model_validate(json.loads(json.dumps(docs[0], default=str)))
        except UnicodeDecodeError:
            raise UiError(400, "tenant.yaml: not UTF-8 text") from None
        except SpecError as exc:
            raise UiError(422, "invalid tenant", problems=[str(p) for p in exc.problems]) from None
        except ValueError as exc:  # pydantic's ValidationError
            raise UiError(422, "invalid tenant", problems=str(exc).splitlines()[:20]) from None
        if tenant.name != name:
            raise UiError(422, f"metadata.name: must be {name!r} (the tenant being changed)")
        doc = routes_tenants.tenant_doc(tenant)
        bundle, ok, report = routes_tenants.rendered(doc)
        return render(
            request,
            "tenant_diff.html",
            session=session,
            me=me,
            name=name,
            diff=_bundle_diff(current_view.bundle, bundle),
            ok=ok,
            report=report,
            proposed=json.dumps(doc, sort_keys=True),
        )

    return await anyio.to_thread.run_sync(work)


@router.post("/tenants/{name}/apply")
@page
def tenant_apply(
    request: Request,
    name: TenantName,
    csrf: Annotated[str, Form(max_length=128)] = "",
    proposed: Annotated[str, Form(max_length=1_000_000)] = "",
) -> Response:
    from pydantic import ValidationError

    from riskgrid.spec.tenant import Tenant

    session, c, _ = _admin(request)
    check_csrf(request, session, c, csrf)
    try:
        tenant = Tenant.model_validate(json.loads(proposed))
    except (ValueError, ValidationError):
        raise UiError(422, "proposed: not a valid Tenant; upload it again") from None
    routes_tenants.update_tenant(name, tenant, c)
    return RedirectResponse("/ui/tenants", status_code=303)


# ------------------------------------------------------------------ posture (platform admins)


@router.get("/posture")
@page
def posture_page(
    request: Request,
    actor: Annotated[str, Query(max_length=256)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    decision: Annotated[str, Query(pattern=r"^(|allow|deny|error)$")] = "",
    tenant: Annotated[str, Query(max_length=63)] = "",
) -> Response:
    from pathlib import Path as FsPath

    session, c, me = _admin(request)
    svc = c.svc
    views = _tenant_views(c, me)
    found = posture.violations_by_tenant({v["name"]: v["tenant"] for v in views})
    settings = svc.settings
    model_dir = settings.threatmodel_dir or FsPath("threatmodel")
    evidence = settings.threats_evidence or FsPath("results/threats/evidence.json")
    threat_doc, exceptions, threat_error = None, [], ""
    if model_dir.is_dir():
        try:
            threat_doc, records = threat_cache(request).get(
                model_dir, evidence, posture.today_utc()
            )
            exceptions = posture.exception_views(records, posture.today_utc())
        except Exception as exc:  # a broken model is shown, not a 500: the page has more
            threat_error = f"{type(exc).__name__}: {exc}"
    else:
        threat_error = f"no threat model at {model_dir} (set RISKGRID_THREATMODEL_DIR)"
    flt = posture.AuditFilter(actor=actor, action=action, decision=decision, tenant=tenant)
    rows, matched, actions = posture.audit_rows(svc, flt)
    chain = posture.audit_verification(svc)
    return render(
        request,
        "posture.html",
        session=session,
        me=me,
        severities=posture.SEVERITIES,
        counts=posture.severity_counts(found),
        violations=found,
        threat=threat_doc,
        threat_error=threat_error,
        exceptions=exceptions,
        audit=rows,
        matched=matched,
        actions=actions,
        flt=flt,
        chain=chain,
    )
