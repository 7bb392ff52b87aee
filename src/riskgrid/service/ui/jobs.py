"""Jobs: the list with live progress, submission by upload, a job's results, cancel, re-run."""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from riskgrid.service import routes_jobs
from riskgrid.service.deps import ApiError, Caller, services
from riskgrid.service.schemas import JobSubmission
from riskgrid.service.ui import results as res
from riskgrid.service.ui.pages import (
    FileName,
    JobId,
    as_ui_error,
    check_csrf,
    me_of,
    page,
    signed_in,
)
from riskgrid.service.ui.sessions import Session
from riskgrid.service.ui.web import PAGE_HEADERS, UiError, render

router = APIRouter()

ACTIVE = ("queued", "running")
SUBMIT_ROLES = ("developer", "tenant-admin", "platform-admin")
MAX_UPLOAD_FILES = 16


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
        if isinstance(f, UploadFile) and f.filename:
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
        view = await routes_jobs.submit_body(tenant, _as_body(body), c)
    except _BadUpload as exc:
        return await anyio.to_thread.run_sync(
            functools.partial(
                _jobs_page, request, session, c, exc.status, form_error=exc.message,
                problems=exc.problems, form={"tenant": tenant},
            )
        )  # fmt: skip
    except ApiError as exc:
        err = as_ui_error(exc)
        return await anyio.to_thread.run_sync(
            functools.partial(
                _jobs_page, request, session, c, exc.status, form_error=exc.detail,
                problems=err.problems, form={"tenant": tenant},
            )
        )  # fmt: skip
    return RedirectResponse(f"/ui/jobs/{view.id}", status_code=303)


def _as_body(body: JobSubmission) -> Callable[[], Awaitable[bytes]]:
    """The form's submission as the API's raw JSON body (one submission path for both)."""

    async def read() -> bytes:
        return body.model_dump_json().encode()

    return read


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
        result = json.loads(bytes(routes_jobs.get_result(job_id, c).body))
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

    session, c = await anyio.to_thread.run_sync(signed_in, request)
    check_csrf(request, session, c, csrf)
    view = await anyio.to_thread.run_sync(routes_jobs.get_job, job_id, c)  # authorises

    def inputs() -> dict[str, Any]:
        with c.svc.db.session() as s:
            row = s.get(JobRow, job_id)
            return dict(row.inputs or {}) if row else {}

    stored = await anyio.to_thread.run_sync(inputs)
    body = JobSubmission(job=stored.get("job") or {}, refs=stored.get("blobs") or {})
    new = await routes_jobs.submit_body(view.tenant, _as_body(body), c)
    return RedirectResponse(f"/ui/jobs/{new.id}", status_code=303)


@router.get("/jobs/{job_id}/pnl.svg")
@page
def pnl_chart(request: Request, job_id: JobId) -> Response:
    _, c = signed_in(request)
    result = json.loads(bytes(routes_jobs.get_result(job_id, c).body))  # authorises
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
