"""The CPU-heavy steps of the heavy requests, as plain functions of bytes and dicts.

They run in the work pool's processes (``workpool.py``), never on the API process's event loop
or in its threads, so a 16 MB policy dry-run or a 1.4 MB job upload cannot hold the API
process's interpreter lock while ``/healthz`` waits. Everything here is picklable in and out:
outcomes are tagged tuples, not exceptions, so the API process turns them into the same
responses as before (a :class:`RequestValidationError` for a body that does not match its
schema, a 422 with ``problems`` for an invalid job, with ``violations`` for a policy denial).

* :func:`parse_submission` — JSON (depth-bounded) → :class:`JobSubmission` → the upload paths
  checked as a tree → files decoded from base64 and hashed.
* :func:`validate_job` — the job written to a scratch directory and loaded with RISK's loader
  (as ``riskgrid run`` would), then admitted by policy.
* :func:`policy_report` — JSON → :class:`PolicyCheckRequest` → the policy library → the
  (size-capped) report, serialised.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

#: ``("invalid", errors)``: the body does not match its schema (pydantic-style error dicts,
#: ``loc`` starting with ``"body"``); ``("http", status, detail)``: a framework-level refusal;
#: ``("problems", [str, ...])``: an invalid job (SpecError problems, upload-relative).
Outcome = tuple[Any, ...]


def _errors(exc: Any) -> list[dict[str, Any]]:
    return [
        {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)[:50]
    ]


def parse_json_body(body: bytes, model: Any) -> Outcome:
    """``("ok", model instance)`` or a refusal, as FastAPI would have answered the body."""
    from pydantic import ValidationError

    from riskgrid.spec.yamlbounds import MAX_DEPTH, YamlLimitError, loads_json

    if not body:
        return ("invalid", [{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        data = loads_json(body)
    except YamlLimitError:
        return ("http", 422, f"invalid request: body: nested deeper than {MAX_DEPTH} levels")
    except UnicodeDecodeError:
        return ("http", 400, "request body is not UTF-8 JSON")
    except ValueError as exc:  # json.JSONDecodeError
        pos = getattr(exc, "pos", 0)
        error = {"type": "json_invalid", "loc": ("body", pos), "msg": "JSON decode error"}
        return ("invalid", [error])
    try:
        return ("ok", model.model_validate(data))
    except ValidationError as exc:
        return ("invalid", _errors(exc))


def parse_submission(body: bytes) -> Outcome:
    """A job submission's body → ``("ok", job, files, digests, refs)``.

    ``files`` are the uploaded bytes by path, ``digests`` their SHA-256 by path, ``refs`` the
    already-stored files by path → SHA-256. Or a refusal (see :data:`Outcome`).
    """
    from riskgrid.service.jobfiles import check_tree, decode_files
    from riskgrid.service.schemas import JobSubmission
    from riskgrid.spec.errors import SpecError

    parsed = parse_json_body(body, JobSubmission)
    if parsed[0] != "ok":
        return parsed
    sub = parsed[1]
    try:
        check_tree([*sub.files, *sub.refs])  # uploads and references form one tree
        files = decode_files(sub.files)
    except SpecError as exc:
        return ("problems", [str(p) for p in exc.problems])
    digests = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    return ("ok", sub.job, files, digests, dict(sub.refs))


def validate_job(
    job_doc: dict[str, Any], tenant_spec: dict[str, Any], files: dict[str, bytes]
) -> Outcome:
    """Load the job as the runner will and admit it by policy.

    ``("ok", name, violations)`` — ``violations`` (PolicyViolation dicts) empty when admitted —
    or ``("problems", [...])`` with paths relative to the upload (never the server's).
    """
    from riskgrid.service import gridbridge, integrations
    from riskgrid.service.jobfiles import check_references, write_job_dir
    from riskgrid.spec.errors import SpecError
    from riskgrid.spec.tenant import Tenant

    tmp = tempfile.mkdtemp(prefix="riskgrid-submit-")
    try:
        check_references(job_doc)
        inputs = gridbridge.load(write_job_dir(Path(tmp), job_doc, files))
        job, cells = inputs.job, inputs.portfolio.n * inputs.scenarios.n
    except SpecError as exc:
        # server paths are nobody's business: show paths relative to the upload
        return ("problems", [str(p).replace(tmp + "/", "").replace(tmp, "") for p in exc.problems])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    violations = integrations.admit(job, Tenant.model_validate(tenant_spec), cells=cells)
    return ("ok", job.metadata.name, [v.model_dump() for v in violations])


def policy_report(body: bytes, cap: int) -> Outcome:
    """``("ok", report JSON bytes, "allow"|"deny")`` for a policy dry-run body, or a refusal.

    The report lists at most ``cap`` violations and errors; the totals and ``by_policy``
    count all of them, so a huge input cannot make a huge answer.
    """
    from riskgrid.service import integrations
    from riskgrid.service.schemas import PolicyCheckRequest, PolicyCheckResponse

    parsed = parse_json_body(body, PolicyCheckRequest)
    if parsed[0] != "ok":
        return parsed
    violations, errors = integrations.check(parsed[1].objects)
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
    return ("ok", report.model_dump_json().encode(), "deny" if violations or errors else "allow")


def warm() -> int:
    """Load what the heavy steps need (the loader, pydantic models, the compiled policy
    library) so the first real request finds a warm process. Returns the process id."""
    import os

    from riskgrid.service import integrations

    integrations.check([])
    import riskgrid.spec.job  # noqa: F401

    return os.getpid()
