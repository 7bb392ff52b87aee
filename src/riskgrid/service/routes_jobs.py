"""Jobs: submit (admitted by policy first), list, status with task progress, cancel, results."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select, update
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskgrid.service import gridbridge, heavy, integrations
from riskgrid.service.audit import AuditEvent
from riskgrid.service.authz import Action, Role, allowed, tenant_role
from riskgrid.service.bulkhead import Rejected
from riskgrid.service.db import rowcount
from riskgrid.service.deps import (
    NOT_FOUND,
    ApiError,
    BoundedRoute,
    Caller,
    caller,
    json_body,
    retry_after,
)
from riskgrid.service.jobfiles import SOURCE, known_blobs, load_blobs, store_blobs
from riskgrid.service.models import JobRow, TenantRow, as_utc, utcnow
from riskgrid.service.routes_system import AUTH_ERRORS
from riskgrid.service.routes_tenants import (
    ERRORS,
    TenantName,
    load_visible,
    tenant_row_in,
    visible,
)
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
from riskgrid.service.verdicts import verdict_key
from riskgrid.service.workpool import WorkUnavailable
from riskgrid.spec.errors import Problem
from riskgrid.spec.tenant import Tenant

T = TypeVar("T")
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
        submitted_at=as_utc(row.submitted_at),
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


#: Bodies up to this size are parsed in a work thread (well under a millisecond of the
#: interpreter); larger ones — uploads — in a work process.
INLINE_PARSE_MAX = 64 * 1024


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
    openapi_extra=json_body(JobSubmission),
)
async def submit_job(tenant: TenantName, request: Request, c: Caller = Depends(caller)) -> JobView:
    """Submit a RiskJob to a tenant. It is validated, admitted by policy, then queued.

    Body: a ``JobSubmission``. The CPU-heavy steps (parsing an upload, decoding and hashing its
    files, loading and validating the inputs, policy admission) run in the work processes, the
    database steps in the work threads, within the caller's and the tenant's concurrency
    limits; a full tenant queue or too many of the caller's requests in flight is a 429 with
    ``Retry-After``. A job already validated over the same files (by content hash) for the same
    tenant spec is not validated again.
    """
    return await submit_body(tenant, request.body, c)


async def submit_body(tenant: str, read_body: Callable[[], Awaitable[bytes]], c: Caller) -> JobView:
    """Submit a ``JobSubmission`` given as raw JSON bytes: the API route and the console's
    upload/re-run forms go through this one path (limits, work processes, audit).

    ``read_body`` is awaited only once the caller's concurrency slot is taken, so a caller at
    its limit is refused before its upload is read.
    """
    try:
        return await c.svc.bulkheads.run(
            c.principal.subject, f"tenant:{tenant}", _submit, tenant, c, before=read_body
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


async def _in_thread(c: Caller, fn: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(fn, *args, limiter=c.svc.bulkheads.limiter)


async def _deny(c: Caller, *args: Any, **kwargs: Any) -> ApiError:
    """:meth:`Caller.deny` (an audit write: database, signature) off the event loop."""
    return await _in_thread(c, lambda: c.deny(*args, **kwargs))


async def _heavy(c: Caller, tenant: str, fn: Callable[..., T], *args: Any) -> T:
    try:
        return await c.svc.work.call(tenant, fn, *args)
    except WorkUnavailable as exc:
        raise ApiError(503, str(exc), headers=retry_after(5)) from None


def raise_refusal(outcome: tuple[Any, ...]) -> None:
    """A body that did not parse or match its schema: the framework's own answers."""
    if outcome[0] == "invalid":
        raise RequestValidationError(outcome[1])
    if outcome[0] == "http":
        raise StarletteHTTPException(outcome[1], outcome[2])


_READ: Any = object()  # sentinel: "not read yet"


def _submit_role(c: Caller, tenant: str, row: Any = _READ) -> dict[str, Any]:
    """The tenant's spec if the caller may submit there; ``row``: the tenant as already read
    (default: read it now)."""
    action = Action.JOB_SUBMIT
    if row is _READ:
        trow, role = load_visible(c, tenant, action)
    else:
        trow, role = visible(c, row, tenant, action)
    if not allowed(role, action):
        raise c.deny(action, 403, f"role {role.label} may not submit jobs", tenant=tenant)
    return trow.spec


def _unknown_refs(
    c: Caller, tenant: str, refs: dict[str, str], known: set[str] | None = None
) -> list[str]:
    """Problems for the references ``tenant`` has not uploaded (``known``: those it has, as
    already read; default: read them now)."""
    if known is None:
        with c.svc.db.read() as s:
            known = known_blobs(s, tenant, sorted(set(refs.values())))
    return [
        str(Problem(SOURCE, ("refs", rel), f"{d}: no such file uploaded by this tenant; send it"))
        for rel, d in refs.items()
        if d not in known
    ]


def _stored(c: Caller, refs: dict[str, str]) -> dict[str, bytes]:
    with c.svc.db.read() as s:
        return load_blobs(s, refs)


def _front(c: Caller, tenant: str, body: bytes) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """One thread hop and one read session for a small body: parse (pure, so it may come
    first: its verdict is raised only after the role check), tenant and owned references read
    together, then the role check and the references' problems, outside the session."""
    parsed = heavy.parse_submission(body)
    refs: dict[str, str] = parsed[4] if parsed[0] == "ok" else {}
    with c.svc.db.read() as s:
        row = tenant_row_in(c, s, tenant)
        known = known_blobs(s, tenant, sorted(set(refs.values()))) if row and refs else set()
    spec = _submit_role(c, tenant, row)
    if refs:
        unknown = _unknown_refs(c, tenant, refs, known)
        if unknown:
            return spec, ("problems", unknown)
    return spec, parsed


async def _submit(body: bytes, tenant: str, c: Caller) -> JobView:
    action = Action.JOB_SUBMIT
    if len(body) <= INLINE_PARSE_MAX:
        spec, parsed = await _in_thread(c, _front, c, tenant, body)
    else:
        spec = await _in_thread(c, _submit_role, c, tenant)
        parsed = await _heavy(c, tenant, heavy.parse_submission, body)
        if parsed[0] == "ok" and parsed[4]:
            unknown = await _in_thread(c, _unknown_refs, c, tenant, parsed[4])
            parsed = ("problems", unknown) if unknown else parsed
    raise_refusal(parsed)
    # the tenant must own every file it references (checked above), cached verdict or not
    problems: list[str] = parsed[1] if parsed[0] == "problems" else []
    verdict: tuple[Any, ...] | None = None
    if not problems:
        _, raw_job, files, digests, refs = parsed
        job_doc = _stamp_labels(tenant, spec, raw_job)
        key = verdict_key(spec, job_doc, {**digests, **refs})
        verdict = c.svc.verdicts.get(key)
        if verdict is None:
            inputs = {**files, **(await _in_thread(c, _stored, c, refs))} if refs else files
            verdict = await _heavy(c, tenant, heavy.validate_job, job_doc, spec, inputs)
            c.svc.verdicts.put(key, verdict)
        if verdict[0] == "problems":
            problems = verdict[1]
    if problems:
        raise await _deny(
            c,
            action,
            422,
            f"invalid job: {problems[0]}",
            tenant=tenant,
            reason="invalid job",
            extra={"problems": problems},
        )
    assert verdict is not None  # set above whenever there are no problems
    _, name, violations = verdict
    if not violations and c.svc.image_gate is not None:
        await _in_thread(c, _image_gate, c, tenant, Tenant.model_validate(spec), name)
    if violations:
        c.svc.metrics.policy_decisions.labels("admission", "deny").inc()
        first = violations[0]
        raise await _deny(
            c,
            action,
            422,
            f"rejected by policy {first['policy_id']}: {first['message']}",
            tenant=tenant,
            obj=f"job/{name}",
            reason="policy",
            extra={"violations": violations},
        )
    c.svc.metrics.policy_decisions.labels("admission", "allow").inc()
    view = await _queue(c, tenant, name, job_doc, files, refs)
    c.svc.runner.wake()
    return view


async def _queue(
    c: Caller,
    tenant: str,
    name: str,
    job_doc: dict[str, Any],
    files: dict[str, bytes],
    refs: dict[str, str],
) -> JobView:
    """Store the admitted job (new files once by content hash) and its audit record in one
    transaction, group-committed with concurrent submissions (audit.py): answered once both
    are durable."""
    job_id, submitted = uuid.uuid4().hex, utcnow()

    def write(s: Any) -> JobRow:
        row = JobRow(
            id=job_id,
            tenant=tenant,
            name=name,
            state="queued",
            submitted_by=c.principal.subject,
            submitted_at=submitted,
            inputs={"job": job_doc, "blobs": {**store_blobs(s, files, tenant), **refs}},
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
        s.add(row)
        return row

    def records(_: Any) -> list[AuditEvent]:
        return [
            AuditEvent(
                actor=c.principal.subject,
                action=Action.JOB_SUBMIT,
                decision="allow",
                request_id=c.request_id,
                tenant=tenant,
                object=f"job/{job_id}",
                detail={"name": name},
            )
        ]

    if c.svc.audit.running:
        row, _ = await asyncio.wrap_future(c.svc.audit.submit(write, records))
    else:  # no writer thread (an app not started through its lifespan): commit in a thread
        row, _ = await _in_thread(c, c.svc.audit.commit, write, records)
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
    with c.svc.db.read() as s:
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
        with c.svc.db.read() as s:
            visible = [
                r.name
                for r in s.scalars(select(TenantRow))
                if tenant_role(c.principal, r.spec, group) is not None
            ]
    q = select(JobRow).where(JobRow.tenant.in_(visible))
    if state:
        q = q.where(JobRow.state == state)
    q = q.order_by(JobRow.submitted_at.desc(), JobRow.id).offset(offset).limit(limit + 1)
    with c.svc.db.read() as s:
        rows = list(s.scalars(q))
    more = len(rows) > limit
    return JobPage(
        items=[job_view(r) for r in rows[:limit]], next_offset=offset + limit if more else None
    )


def _job(c: Caller, job_id: str, action: str) -> tuple[JobRow, Role]:
    with c.svc.db.read() as s:
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
        done = rowcount(
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "queued")
                .values(state="cancelled", cancel_requested=True, finished_at=utcnow())
            )
        )
        if not done:
            done = rowcount(
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.state == "running")
                    .values(cancel_requested=True)
                )
            )
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
