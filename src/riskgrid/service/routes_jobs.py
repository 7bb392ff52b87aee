"""Jobs: submit (admitted by policy first), list, status with task progress, cancel, results."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select, update

from riskgrid.service import gridbridge, integrations
from riskgrid.service.authz import Action, Role, allowed, tenant_role
from riskgrid.service.bulkhead import Rejected
from riskgrid.service.deps import NOT_FOUND, ApiError, BoundedRoute, Caller, caller, retry_after
from riskgrid.service.jobfiles import (
    check_references,
    check_tree,
    decode_files,
    known_blobs,
    resolve_refs,
    store_blobs,
    write_job_dir,
)
from riskgrid.service.models import JobRow, TenantRow, as_utc, utcnow
from riskgrid.service.routes_system import AUTH_ERRORS
from riskgrid.service.routes_tenants import ERRORS, TenantName, load_visible
from riskgrid.service.schemas import (
    BlobAnswer,
    BlobQuery,
    ErrorBody,
    JobPage,
    JobSubmission,
    JobView,
    PolicyRejection,
    ProblemsBody,
    TaskProgress,
)
from riskgrid.spec.errors import SpecError
from riskgrid.spec.tenant import Tenant

router = APIRouter(tags=["jobs"], route_class=BoundedRoute)

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
PAGE_MAX = 100
JOB_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    403: {"model": ErrorBody, "description": "Your role does not allow this."},
    404: {"model": ErrorBody, "description": "No such job (or not yours: same answer)."},
    409: {"model": ErrorBody, "description": "Not possible in the job's current state."},
}


def job_view(row: JobRow) -> JobView:
    return JobView(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        state=row.state,
        submitted_by=row.submitted_by,
        submitted_at=as_utc(row.submitted_at),  # type: ignore[arg-type]
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        cancel_requested=row.cancel_requested,
        attempts=row.attempts,
        tasks=TaskProgress(
            total=row.tasks_total,
            done=row.tasks_done,
            failed=row.tasks_failed,
            retried=row.tasks_retried,
            resumed=row.tasks_resumed,
        ),
        error=row.error,
        result_files=list(row.result_files or []),
    )


TENANT_LABEL = "riskgrid.dev/tenant"
COST_CENTRE_LABEL = "riskgrid.dev/cost-centre"


def _stamp_labels(tenant: str, tenant_doc: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """The platform, not the submitter, knows which tenant a job belongs to: missing ownership
    labels are filled in from the tenant (its name and ``costCentre``). A label that names
    another tenant is left as it is, for admission to refuse (RG-ADM-001)."""
    meta = job.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("labels", {}), dict):
        return job  # the loader reports the malformed metadata precisely
    labels = dict(meta.get("labels") or {})
    labels.setdefault(TENANT_LABEL, tenant)
    cost_centre = tenant_doc.get("spec", {}).get("costCentre")
    if cost_centre:
        labels.setdefault(COST_CENTRE_LABEL, cost_centre)
    return {**job, "metadata": {**meta, "labels": labels}}


@router.post(
    "/v1/tenants/{tenant}/jobs",
    status_code=201,
    response_model=JobView,
    responses={
        **ERRORS,
        422: {
            "model": PolicyRejection | ProblemsBody,
            "description": "Invalid job, or rejected by policy (with the policies' messages).",
        },
    },
)
async def submit_job(
    tenant: TenantName, body: JobSubmission, c: Caller = Depends(caller)
) -> JobView:
    """Submit a RiskJob to a tenant. It is validated, admitted by policy, then queued.

    The work (decoding, hashing, loading and validating the inputs, policy admission, storing)
    runs in the work pool within the caller's and the tenant's concurrency limits; a full
    tenant queue or too many of the caller's requests in flight is a 429 with ``Retry-After``.
    """
    try:
        return await c.svc.bulkheads.run(
            c.principal.subject, f"tenant:{tenant}", _submit, tenant, body, c
        )
    except Rejected as exc:
        c.svc.denials.record(  # aggregated: a flood of 429s is one audit record per window
            actor=c.principal.subject,
            action=Action.JOB_SUBMIT,
            request_id=c.request_id,
            key=("concurrency-limit", tenant),
            detail={"status": 429, "reason": exc.reason, "tenant": tenant},
        )
        raise ApiError(429, exc.reason, headers=retry_after(exc.retry_after)) from None


def _submit(tenant: str, body: JobSubmission, c: Caller) -> JobView:
    action = Action.JOB_SUBMIT
    trow, role = load_visible(c, tenant, action)
    if not allowed(role, action):
        raise c.deny(action, 403, f"role {role.label} may not submit jobs", tenant=tenant)
    job_doc = _stamp_labels(tenant, trow.spec, body.job)
    tmp = tempfile.mkdtemp(prefix="riskgrid-submit-")
    try:
        check_references(job_doc)
        check_tree([*body.files, *body.refs])  # uploads and references form one tree
        files = decode_files(body.files)
        if body.refs:
            with c.svc.db.session() as s:
                stored = resolve_refs(s, tenant, body.refs)
            files = {**files, **stored}
        job_path = write_job_dir(FsPath(tmp), job_doc, files)
        inputs = gridbridge.load(job_path)
        job, cells = inputs.job, inputs.portfolio.n * inputs.scenarios.n
    except SpecError as exc:
        # server paths are nobody's business: show paths relative to the upload
        problems = [str(p).replace(tmp + "/", "").replace(tmp, "") for p in exc.problems]
        raise c.deny(
            action,
            422,
            f"invalid job: {problems[0]}",
            tenant=tenant,
            reason="invalid job",
            extra={"problems": problems},
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tenant_spec = Tenant.model_validate(trow.spec)
    violations = integrations.admit(job, tenant_spec, cells=cells)
    if not violations and c.svc.image_gate is not None:
        _image_gate(c, tenant, tenant_spec, job.metadata.name)
    if violations:
        c.svc.metrics.policy_decisions.labels("admission", "deny").inc()
        first = violations[0]
        raise c.deny(
            action,
            422,
            f"rejected by policy {first.policy_id}: {first.message}",
            tenant=tenant,
            obj=f"job/{job.metadata.name}",
            reason="policy",
            extra={"violations": [v.model_dump() for v in violations]},
        )
    c.svc.metrics.policy_decisions.labels("admission", "allow").inc()
    row = JobRow(
        id=uuid.uuid4().hex,
        tenant=tenant,
        name=job.metadata.name,
        state="queued",
        submitted_by=c.principal.subject,
        submitted_at=utcnow(),
        inputs={"job": job_doc, "blobs": {}},
        tasks_total=0,
        tasks_done=0,
        tasks_failed=0,
        tasks_retried=0,
        tasks_resumed=0,
        attempts=0,
        cancel_requested=False,
        error=None,
        result_files=[],
    )
    with c.svc.db.session() as s:
        row.inputs = {"job": job_doc, "blobs": store_blobs(s, files, tenant)}
        s.add(row)
    c.audit(action, "allow", tenant=tenant, obj=f"job/{row.id}", detail={"name": row.name})
    c.svc.runner.wake()
    return job_view(row)


def _image_gate(c: Caller, tenant: str, tenant_spec: Tenant, job_name: str) -> None:
    """Every image the job would run on passes the gate, or the job is refused (422) with the
    reason per image; each decision is in the audit log with its digest."""
    decisions = integrations.verify_images(c.svc.image_gate, tenant_spec)
    for d in decisions:
        c.audit(
            "image.verify",
            "allow" if d.allowed else "deny",
            tenant=tenant,
            obj=d.pinned or d.image,
            detail={
                "job": job_name,
                "image": d.image,
                "digest": d.digest,
                "rule": d.trust_rule,
                "reasons": [f"{r.rule}: {r.message}" for r in d.reasons],
                "cached": d.cached,
            },
        )
    refused = [d for d in decisions if not d.allowed]
    if not refused:
        return
    c.svc.metrics.policy_decisions.labels("image", "deny").inc()
    messages = [m for d in refused for m in d.messages()]
    raise c.deny(
        Action.JOB_SUBMIT,
        422,
        f"rejected by the image gate (RG-IMG-005): {messages[0]}",
        tenant=tenant,
        obj=f"job/{job_name}",
        reason="image",
        extra={
            "violations": [
                {"policy_id": "RG-IMG-005", "severity": "critical", "message": m} for m in messages
            ],
            "images": [d.to_dict() for d in decisions],
        },
    )


@router.post("/v1/tenants/{tenant}/blobs/missing", response_model=BlobAnswer, responses=ERRORS)
def missing_blobs(tenant: TenantName, body: BlobQuery, c: Caller = Depends(caller)) -> BlobAnswer:
    """Which of these input files (by SHA-256) the tenant has not uploaded yet.

    Resubmitting a job over the same market data then costs a hash, not an upload: send the
    missing files in ``files`` and the rest as ``refs``. Scoped to the tenant, so the answer
    says nothing about other tenants' files.
    """
    action = Action.JOB_SUBMIT
    _, role = load_visible(c, tenant, action)
    if not allowed(role, action):
        raise c.deny(action, 403, f"role {role.label} may not submit jobs", tenant=tenant)
    with c.svc.db.session() as s:
        known = known_blobs(s, tenant, body.sha256)
    return BlobAnswer(missing=[d for d in dict.fromkeys(body.sha256) if d not in known])


@router.get("/v1/jobs", response_model=JobPage, responses=JOB_ERRORS)
def list_jobs(
    c: Caller = Depends(caller),
    tenant: Annotated[
        str | None, Query(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    ] = None,
    state: Annotated[
        str | None, Query(pattern=r"^(queued|running|succeeded|failed|cancelled)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobPage:
    """Jobs of the tenants you have a role in, newest first."""
    limit = min(limit, c.svc.settings.page_max)
    group = c.svc.settings.platform_admin_group
    if tenant is not None:
        load_visible(c, tenant, Action.JOB_READ)
        visible = [tenant]
    else:
        with c.svc.db.session() as s:
            visible = [
                r.name
                for r in s.scalars(select(TenantRow))
                if tenant_role(c.principal, r.spec, group) is not None
            ]
    q = select(JobRow).where(JobRow.tenant.in_(visible))
    if state:
        q = q.where(JobRow.state == state)
    q = q.order_by(JobRow.submitted_at.desc(), JobRow.id).offset(offset).limit(limit + 1)
    with c.svc.db.session() as s:
        rows = list(s.scalars(q))
    more = len(rows) > limit
    return JobPage(
        items=[job_view(r) for r in rows[:limit]], next_offset=offset + limit if more else None
    )


def _job(c: Caller, job_id: str, action: str) -> tuple[JobRow, Role]:
    with c.svc.db.session() as s:
        row = s.get(JobRow, job_id)
        trow = s.get(TenantRow, row.tenant) if row else None
    role = tenant_role(
        c.principal, trow.spec if trow else None, c.svc.settings.platform_admin_group
    )
    if row is None or role is None:
        reason = "absent" if row is None else "no role in tenant"
        # the caller learns nothing; the audit record (not theirs to read) names the tenant
        # whose job was probed
        raise c.deny(
            action,
            404,
            NOT_FOUND,
            tenant=row.tenant if row else None,
            obj=f"job/{job_id}",
            reason=reason,
        )
    if not allowed(role, action):
        raise c.deny(
            action,
            403,
            f"role {role.label} may not do {action}",
            tenant=row.tenant,
            obj=f"job/{job_id}",
        )
    return row, role


@router.get("/v1/jobs/{job_id}", response_model=JobView, responses=JOB_ERRORS)
def get_job(job_id: JobId, c: Caller = Depends(caller)) -> JobView:
    """A job's state and task progress."""
    row, _ = _job(c, job_id, Action.JOB_READ)
    return job_view(row)


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobView, responses=JOB_ERRORS)
def cancel_job(job_id: JobId, c: Caller = Depends(caller)) -> JobView:
    """Cancel a queued or running job."""
    action = Action.JOB_CANCEL
    row, _ = _job(c, job_id, action)
    obj = f"job/{job_id}"
    with c.svc.db.session() as s:
        done = s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state == "queued")
            .values(state="cancelled", cancel_requested=True, finished_at=utcnow())
        ).rowcount
        if not done:
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "running")
                .values(cancel_requested=True)
            ).rowcount
        fresh = s.get(JobRow, job_id)
    assert fresh is not None
    if not done:
        raise c.deny(action, 409, f"job is already {fresh.state}", tenant=row.tenant, obj=obj)
    c.svc.runner.request_cancel(job_id)
    c.audit(action, "allow", tenant=row.tenant, obj=obj, detail={"state": fresh.state})
    return job_view(fresh)


def _finished(c: Caller, job_id: str) -> JobRow:
    row, _ = _job(c, job_id, Action.JOB_RESULTS)
    if row.state != "succeeded":
        raise ApiError(409, f"job has no results: it is {row.state}")
    return row


@router.get(
    "/v1/jobs/{job_id}/result",
    responses={
        **JOB_ERRORS,
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
    },
)
def get_result(job_id: JobId, c: Caller = Depends(caller)) -> JSONResponse:
    """The job's ``result.json`` (the grid's Result document)."""
    row = _finished(c, job_id)
    if gridbridge.RESULT_FILE not in row.result_files:
        raise ApiError(409, "job stored no result.json")
    data = json.loads(c.svc.store.read(row.tenant, row.id, gridbridge.RESULT_FILE))
    return JSONResponse(data)


@router.get(
    "/v1/jobs/{job_id}/files/{name}",
    response_class=StreamingResponse,
    responses={
        **JOB_ERRORS,
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
    },
)
def get_file(
    job_id: JobId,
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")],
    c: Caller = Depends(caller),
) -> StreamingResponse:
    """Download one result file (e.g. the P&L vectors as Parquet)."""
    row = _finished(c, job_id)
    if name not in row.result_files:
        raise ApiError(404, NOT_FOUND)
    media = (
        "application/vnd.apache.parquet"
        if name.endswith(".parquet")
        else ("application/json" if name.endswith(".json") else "application/octet-stream")
    )
    return StreamingResponse(
        c.svc.store.stream(row.tenant, row.id, name),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
