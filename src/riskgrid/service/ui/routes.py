"""The console's pages under ``/ui``.

Each page authenticates its session's token exactly as the API authenticates a bearer token
(:func:`riskgrid.service.deps.authenticate`) and then calls the API's own route functions
(``routes_jobs.list_jobs``, ``get_job``, ``submit_job``, ``cancel_job``, ``get_result``,
``get_file``; ``routes_tenants.get_tenant``, ``update_tenant``; ``routes_system.me``): the same
authorisation, audit records, errors and numbers as the API, no second implementation.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from riskgrid.service import routes_jobs, routes_system, routes_tenants
from riskgrid.service.deps import ApiError, Caller, services
from riskgrid.service.ui import oidc, posture
from riskgrid.service.ui import results as res
from riskgrid.service.ui.sessions import COOKIE, LOGIN_COOKIE, LOGIN_SECONDS, Session
from riskgrid.service.ui.web import (
    PAGE_HEADERS,
    STATIC,
    UiError,
    current,
    render,
    secure_cookies,
    session_caller,
    store,
)

router = APIRouter(prefix="/ui", include_in_schema=False)

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
TenantName = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
ACTIVE = ("queued", "running")
SUBMIT_ROLES = ("developer", "tenant-admin", "platform-admin")
MAX_UPLOAD_FILES = 16


def _error_page(request: Request, exc: UiError) -> Response:
    session, _ = current(request)
    headers = {}
    if exc.status == 401:
        session = None
    resp = render(
        request,
        "error.html",
        exc.status,
        session=session,
        status=exc.status,
        message=exc.message,
        problems=exc.problems,
    )
    resp.headers.update(headers)
    if exc.status == 401:
        resp.delete_cookie(COOKIE, path="/ui")
    return resp


def _as_ui_error(exc: ApiError) -> UiError:
    problems = [str(p) for p in exc.extra.get("problems", [])]
    problems += [
        f"{v.get('policy_id')}: {v.get('message')}" for v in exc.extra.get("violations", [])
    ]
    return UiError(exc.status, exc.detail, problems=problems)


def page(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UiError / ApiError raised by a handler into an HTML error page with its status."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(request: Request, *args: Any, **kw: Any) -> Any:
            try:
                return await fn(request, *args, **kw)
            except UiError as exc:
                return _error_page(request, exc)
            except ApiError as exc:
                return _error_page(request, _as_ui_error(exc))

        return run_async

    @functools.wraps(fn)
    def run(request: Request, *args: Any, **kw: Any) -> Any:
        try:
            return fn(request, *args, **kw)
        except UiError as exc:
            return _error_page(request, exc)
        except ApiError as exc:
            return _error_page(request, _as_ui_error(exc))

    return run


def signed_in(request: Request) -> tuple[Session, Caller]:
    session, expired = current(request)
    if session is None:
        if expired:
            raise UiError(401, "Your session has expired. Sign in again.")
        raise UiError(401, "Sign in to use the console.")
    return session, session_caller(request, session)


def check_csrf(request: Request, session: Session, c: Caller, value: Any) -> None:
    """Every state-changing form carries the session's CSRF token; a form from before a
    sign-out (or from another site) does not."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if not session.csrf_ok(value if isinstance(value, str) else None) or (
        origin is not None and origin != own
    ):
        raise UiError(
            403, "This form has expired or did not come from this console. Reload the page."
        ) from c.deny("ui.csrf", 403, "csrf token invalid", obj=request.url.path)


def me_of(c: Caller) -> dict[str, Any]:
    return routes_system.me(c).model_dump()


# ------------------------------------------------------------------ sign-in and sign-out


def _endpoints(request: Request) -> tuple[str, str, str]:
    """(authorization endpoint, token endpoint, our redirect URI)."""
    settings = services(request).settings
    base = str(request.base_url).rstrip("/")
    authorize = settings.oidc_authorize_url
    token = settings.oidc_token_url
    if settings.dev_mode:  # the dev issuer of riskgrid serve --dev (service/devissuer.py)
        authorize = authorize or "/dev/oidc/authorize"
        token = token or f"{base}/dev/oidc/token"
    if not authorize or not token:
        raise UiError(
            503,
            "The console's sign-in is not configured: set RISKGRID_OIDC_AUTHORIZE_URL and "
            "RISKGRID_OIDC_TOKEN_URL.",
        )
    return authorize, token, f"{base}/ui/callback"


@router.get("")
def ui_root() -> Response:
    return RedirectResponse("/ui/jobs", status_code=303)


_MESSAGES = {"signed-out": "You have signed out.", "expired": "Your session has expired."}


@router.get("/login")
@page
def login_page(request: Request, m: Annotated[str, Query(max_length=20)] = "") -> Response:
    return render(request, "login.html", message=_MESSAGES.get(m, ""))


@router.get("/login/start")
@page
def login_start(request: Request) -> Response:
    authorize, _, redirect_uri = _endpoints(request)
    try:
        login = store(request).begin_login()
    except OverflowError:
        raise UiError(503, "Too many sign-ins in progress; try again shortly.") from None
    settings = services(request).settings
    url = oidc.authorize_url(
        authorize,
        client_id=settings.oidc_client_id,
        redirect_uri=redirect_uri,
        state=login.state,
        verifier=login.verifier,
    )
    resp = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    resp.set_cookie(
        LOGIN_COOKIE,
        login.id,
        max_age=int(LOGIN_SECONDS),
        path="/ui",
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",  # the issuer's redirect back is a top-level cross-site GET
    )
    return resp


@router.get("/callback")
@page
def callback(
    request: Request,
    code: Annotated[str, Query(max_length=512)] = "",
    state: Annotated[str, Query(max_length=256)] = "",
    error: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    svc = services(request)
    login = store(request).finish_login(request.cookies.get(LOGIN_COOKIE), state)
    if error:
        raise UiError(401, f"The identity provider refused the sign-in: {error}")
    if login is None or not code:
        raise UiError(400, "This sign-in is stale or was not started here. Sign in again.")
    _, token_url, redirect_uri = _endpoints(request)
    try:
        token = oidc.exchange(
            token_url,
            code=code,
            verifier=login.verifier,
            client_id=svc.settings.oidc_client_id,
            redirect_uri=redirect_uri,
        )
    except oidc.SignInError as exc:
        raise UiError(401, f"Sign-in failed: {exc}") from None
    session = Session("", token, "", "", 0.0)
    c = session_caller(request, session)  # the API's verification, rate limit, audit
    import jwt

    exp = float(jwt.decode(token, options={"verify_signature": False})["exp"])  # verified above
    try:
        session = store(request).create(
            token, c.principal.subject, exp, svc.settings.ui_session_seconds
        )
    except OverflowError:
        raise UiError(503, "Too many sessions; try again shortly.") from None
    c.audit("ui.signin", "allow", detail={"expires": int(session.expires_at)})
    resp = RedirectResponse("/ui/jobs", status_code=303, headers={"Cache-Control": "no-store"})
    resp.delete_cookie(LOGIN_COOKIE, path="/ui")
    resp.set_cookie(
        COOKIE,
        session.id,
        path="/ui",
        httponly=True,
        secure=secure_cookies(request),
        samesite="lax",
    )
    return resp


@router.post("/logout")
@page
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    session, c = signed_in(request)
    check_csrf(request, session, c, csrf)
    store(request).end(session.id)
    c.audit("ui.signout", "allow")
    resp = RedirectResponse("/ui/login?m=signed-out", status_code=303)
    resp.delete_cookie(COOKIE, path="/ui")
    return resp


# ------------------------------------------------------------------ jobs


def _jobs(c: Caller) -> list[dict[str, Any]]:
    page_ = routes_jobs.list_jobs(c=c, tenant=None, state=None, limit=50, offset=0)
    return [j.model_dump(mode="json") for j in page_.items]


def _jobs_page(
    request: Request,
    session: Session,
    c: Caller,
    status: int = 200,
    *,
    form_error: str = "",
    problems: list[str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    me = me_of(c)
    jobs = _jobs(c)
    submit_tenants = [t for t, r in me["tenants"].items() if r in SUBMIT_ROLES]
    return render(
        request,
        "jobs.html",
        status,
        session=session,
        me=me,
        jobs=jobs,
        active=any(j["state"] in ACTIVE for j in jobs),
        submit_tenants=submit_tenants,
        form_error=form_error,
        problems=problems or [],
        form=form or {},
        upload_max=services(request).settings.ui_upload_max_bytes,
    )


@router.get("/jobs")
@page
def jobs_page(request: Request) -> Response:
    session, c = signed_in(request)
    return _jobs_page(request, session, c)


@router.get("/jobs/rows")
@page
def jobs_rows(request: Request) -> Response:
    """The jobs table's body, polled while any job is queued or running."""
    session, c = signed_in(request)
    jobs = _jobs(c)
    active = any(j["state"] in ACTIVE for j in jobs)
    resp = render(request, "jobs_rows.html", session=session, jobs=jobs)
    resp.headers["X-Poll-Active"] = "1" if active else "0"
    return resp


def _pack(doc: dict[str, Any], uploads: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, str]]:
    """Point each file the job names at the uploaded file of the same base name, as
    :func:`riskgrid.service.jobfiles.pack_job` does for files on disk."""
    from riskgrid.service.jobfiles import FILE_FIELDS
    from riskgrid.spec.errors import Problem, SpecError

    files: dict[str, str] = {}
    problems = []
    for i, path in enumerate(FILE_FIELDS):
        node: Any = doc
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get(path[-1]) if isinstance(node, dict) else None
        if not isinstance(value, str):
            continue
        base = value.replace("\\", "/").rsplit("/", 1)[-1]
        if base not in uploads:
            problems.append(
                Problem("job", path, f"names {value!r}: upload a file called {base!r} with it")
            )
            continue
        name = f"files/{i}-{re.sub(r'[^A-Za-z0-9._-]', '_', base)}"
        files[name] = base64.b64encode(uploads[base]).decode()
        node[path[-1]] = name
    if problems:
        raise SpecError(problems)
    return doc, files


@router.post("/jobs")
@page
async def submit(request: Request) -> Response:
    session, c = await anyio.to_thread.run_sync(signed_in, request)
    limit = services(request).settings.ui_upload_max_bytes
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise UiError(411, "Uploads must say their length (Content-Length).")
    if int(length) > limit:
        raise UiError(
            413, f"Upload too large: {int(length):,} bytes; the console accepts {limit:,} bytes."
        )
    try:
        form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=16, max_part_size=limit)
    except Exception as exc:  # the multipart parser's own refusals (too many parts, malformed)
        raise UiError(400, f"The upload could not be read: {exc}") from None
    check_csrf(request, session, c, form.get("csrf"))
    tenant = str(form.get("tenant") or "")
    job_up = form.get("job")
    uploads: dict[str, bytes] = {}
    for f in form.getlist("files"):
        if hasattr(f, "read") and getattr(f, "filename", ""):
            uploads[f.filename.rsplit("/", 1)[-1]] = await f.read()
    problems: list[str] = []
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", tenant) or len(tenant) > 63:
        problems.append("tenant: choose the tenant to submit to")
    if not hasattr(job_up, "read") or not getattr(job_up, "filename", ""):
        problems.append("job: choose a RiskJob YAML file")
    if not problems:  # who may submit is decided before anything about the upload is said
        await anyio.to_thread.run_sync(_may_submit, c, tenant)
    if problems:
        return await anyio.to_thread.run_sync(
            functools.partial(
                _jobs_page, request, session, c, 422, form_error="The form is incomplete.",
                problems=problems, form={"tenant": tenant},
            )
        )  # fmt: skip
    raw = await job_up.read()  # type: ignore[union-attr]
    name = str(job_up.filename)  # type: ignore[union-attr]
    try:
        body = await anyio.to_thread.run_sync(_parse_job, name, raw, uploads)
        view = await routes_jobs.submit_job(tenant, body, c)
    except _BadUpload as exc:
        return await anyio.to_thread.run_sync(
            functools.partial(
                _jobs_page, request, session, c, exc.status, form_error=exc.message,
                problems=exc.problems, form={"tenant": tenant},
            )
        )  # fmt: skip
    except ApiError as exc:
        err = _as_ui_error(exc)
        return await anyio.to_thread.run_sync(
            functools.partial(
                _jobs_page, request, session, c, exc.status, form_error=exc.detail,
                problems=err.problems, form={"tenant": tenant},
            )
        )  # fmt: skip
    return RedirectResponse(f"/ui/jobs/{view.id}", status_code=303)


def _may_submit(c: Caller, tenant: str) -> None:
    """The API's answer for this caller and tenant (404 not yours, 403 role), before parsing."""
    from riskgrid.service.authz import Action, Role, allowed

    label = me_of(c)["tenants"].get(tenant)
    if label is None:
        raise c.deny(Action.JOB_SUBMIT, 404, "not found", tenant=tenant, reason="no role")
    role = {r.label: r for r in Role}[label]
    if not allowed(role, Action.JOB_SUBMIT):
        raise c.deny(Action.JOB_SUBMIT, 403, f"role {label} may not submit jobs", tenant=tenant)


class _BadUpload(Exception):
    def __init__(self, status: int, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems


def _parse_job(name: str, raw: bytes, uploads: dict[str, bytes]) -> Any:
    from pydantic import ValidationError

    from riskgrid.service.schemas import JobSubmission
    from riskgrid.spec.errors import SpecError
    from riskgrid.spec.yamlbounds import load_spec_file

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "job.yaml"
    if not safe.endswith((".yaml", ".yml")):
        raise _BadUpload(415, f"{safe}: not a YAML file (.yaml or .yml)", [])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadUpload(400, f"{safe}: not UTF-8 text", []) from None
    try:
        docs = load_spec_file(text, safe)
        doc = docs[0] if len(docs) == 1 else None
        if not isinstance(doc, dict):
            raise SpecError.one(safe, "must be one YAML mapping (a RiskJob)")
        doc = json.loads(json.dumps(doc, default=str))
        doc, files = _pack(doc, uploads)
    except SpecError as exc:
        problems = [str(p) for p in exc.problems]
        raise _BadUpload(422, f"{safe}: invalid job", problems) from None
    try:
        return JobSubmission(job=doc, files=files)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise _BadUpload(422, "invalid submission", problems) from None


def _job_context(c: Caller, job_id: str) -> dict[str, Any]:
    view = routes_jobs.get_job(job_id, c).model_dump(mode="json")
    ctx: dict[str, Any] = {"job": view, "result": None}
    if view["state"] == "succeeded" and "result.json" in view["result_files"]:
        result = json.loads(routes_jobs.get_result(job_id, c).body)
        ctx["result"] = result
        ctx["groups"] = res.group_rows(result)
        ctx["var_levels"] = list((result.get("portfolio") or {}).get("var") or {})
        ctx["es_levels"] = list((result.get("portfolio") or {}).get("es") or {})
        ctx["greek_names"], ctx["greeks"] = res.greek_rows(result)
        ctx["top"] = result.get("topContributors") or {}
        ctx["tails"] = []
        if res.PORTFOLIO_PNL in view["result_files"]:
            labels, pnl = res.read_pnl(c.svc.store.read(view["tenant"], job_id, res.PORTFOLIO_PNL))
            ctx["tails"] = res.tails(result, labels, pnl)
    return ctx


@router.get("/jobs/{job_id}")
@page
def job_page(request: Request, job_id: JobId) -> Response:
    session, c = signed_in(request)
    me = me_of(c)
    ctx = _job_context(c, job_id)
    role = me["tenants"].get(ctx["job"]["tenant"], "")
    return render(request, "job.html", session=session, me=me, can_act=role in SUBMIT_ROLES, **ctx)


@router.get("/jobs/{job_id}/progress")
@page
def job_progress(request: Request, job_id: JobId) -> Response:
    _, c = signed_in(request)
    view = routes_jobs.get_job(job_id, c).model_dump(mode="json")
    resp = render(request, "job_progress.html", job=view)
    resp.headers["X-Poll-Active"] = "1" if view["state"] in ACTIVE else "0"
    return resp


@router.post("/jobs/{job_id}/cancel")
@page
def cancel(
    request: Request, job_id: JobId, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    session, c = signed_in(request)
    check_csrf(request, session, c, csrf)
    routes_jobs.cancel_job(job_id, c)
    return RedirectResponse(f"/ui/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/rerun")
@page
async def rerun(
    request: Request, job_id: JobId, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    """Submit the job again with the same inputs (by reference to the stored files)."""
    from riskgrid.service.models import JobRow
    from riskgrid.service.schemas import JobSubmission

    session, c = await anyio.to_thread.run_sync(signed_in, request)
    check_csrf(request, session, c, csrf)
    view = await anyio.to_thread.run_sync(routes_jobs.get_job, job_id, c)  # authorises

    def inputs() -> dict[str, Any]:
        with c.svc.db.session() as s:
            row = s.get(JobRow, job_id)
            return dict(row.inputs or {}) if row else {}

    stored = await anyio.to_thread.run_sync(inputs)
    body = JobSubmission(job=stored.get("job") or {}, refs=stored.get("blobs") or {})
    new = await routes_jobs.submit_job(view.tenant, body, c)
    return RedirectResponse(f"/ui/jobs/{new.id}", status_code=303)


@router.get("/jobs/{job_id}/pnl.svg")
@page
def pnl_chart(request: Request, job_id: JobId) -> Response:
    _, c = signed_in(request)
    result = json.loads(routes_jobs.get_result(job_id, c).body)  # authorises
    view = routes_jobs.get_job(job_id, c)
    if res.PORTFOLIO_PNL not in view.result_files:
        raise UiError(404, "this job stored no portfolio P&L")
    _, pnl = res.read_pnl(c.svc.store.read(view.tenant, job_id, res.PORTFOLIO_PNL))
    svg = res.histogram_svg(result, pnl)
    headers = {
        **PAGE_HEADERS,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    return Response(svg, media_type="image/svg+xml", headers=headers)


@router.get("/jobs/{job_id}/files/{name}")
@page
def download(request: Request, job_id: JobId, name: FileName) -> Response:
    _, c = signed_in(request)
    resp = routes_jobs.get_file(job_id, name, c)
    resp.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
    return resp


# ------------------------------------------------------------------ tenants (platform admins)


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
            cache = request.app.state.__dict__.setdefault("ui_threats", posture.ThreatCache())
            threat_doc, records = cache.get(model_dir, evidence, posture.today_utc())
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


# ------------------------------------------------------------------ assets


_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@router.get("/static/{name}")
def static(name: FileName) -> Response:
    path = STATIC / name
    if path.suffix not in _STATIC_TYPES or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        path,
        media_type=_STATIC_TYPES[path.suffix],
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
