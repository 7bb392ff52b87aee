"""Evaluate the policy library over Kubernetes objects: the library entry point.

``check_objects(objects)`` is what other areas call (tenancy over rendered bundles, the
service at submission); the CLI calls ``check_documents`` so that reports name file and
document index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from riskgrid.policy.config import PolicyConfig, default_config, resolved_params, validate_config
from riskgrid.policy.engine import RawViolation, RegoEngine, shared_engine
from riskgrid.policy.gcpause import without_gc
from riskgrid.policy.kinds import KNOWN_KINDS
from riskgrid.policy.library import load_library
from riskgrid.policy.report import CheckReport, InputError, Violation, format_path
from riskgrid.spec.exceptions import PolicyException


@dataclass(frozen=True)
class Document:
    """One object to check and where it came from."""

    source: str
    index: int
    obj: Any


def shape_error(obj: Any) -> str | None:
    """Why ``obj`` is not a checkable Kubernetes object (None when it is)."""
    if not isinstance(obj, dict):
        return f"expected a Kubernetes object (mapping), got {type(obj).__name__}"
    missing = [k for k in ("apiVersion", "kind") if not isinstance(obj.get(k), str) or not obj[k]]
    if missing:
        return f"object has no {' or '.join(missing)}"
    meta = obj.get("metadata", {})
    if meta is not None and not isinstance(meta, dict):
        return "metadata must be a mapping"
    return None


def exception_matches(exc: PolicyException, v: Violation) -> bool:
    """Every scope field that is set must match; unset fields match anything."""
    s = exc.spec.scope
    if exc.spec.policy != v.policy_id:
        return False
    if s.cves is not None:
        return False  # waives single findings inside the image gate, never a whole violation
    pairs = (
        (s.namespace, v.namespace),
        (s.kind, v.kind),
        (s.name, v.name),
        (s.container, v.container),
        (s.image, v.image),
    )
    return all(want is None or want == got for want, got in pairs)


def _evaluate(
    eng: RegoEngine, docs: list[Document], params: dict[str, Any]
) -> tuple[list[RawViolation], list[tuple[Document, str]]]:
    """Violations of the batch, in one query. If the engine stops on an object it cannot
    evaluate (a field of an unexpected type that a policy reads), the batch is split until
    that object is found: it is reported as an input error, every other object is judged."""
    try:
        return eng.evaluate([d.obj for d in docs], params), []
    except RuntimeError as exc:
        if len(docs) == 1:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            where = next((ln[4:] for ln in lines if ln.startswith("--> ")), "")
            what = next(
                (ln[7:] for ln in lines if ln.startswith("error: ")), lines[0] if lines else ""
            )
            return [], [(docs[0], f"{what} ({where})" if where else what)]
    half = len(docs) // 2
    raw_a, bad_a = _evaluate(eng, docs[:half], params)
    raw_b, bad_b = _evaluate(eng, docs[half:], params)
    return raw_a + [(i + half, pid, v) for i, pid, v in raw_b], bad_a + bad_b


@without_gc
def check_documents(
    docs: Sequence[Document],
    *,
    config: PolicyConfig | None = None,
    exceptions: Iterable[PolicyException] = (),
    engine: str = "regorus",
    today: dt.date | None = None,
    errors: Sequence[InputError] = (),
) -> CheckReport:
    library = load_library()
    if config is None:
        config = default_config()  # valid by construction (tests check every default)
    else:
        validate_config(config, library)
    today = today or dt.date.today()
    report = CheckReport(engine=engine, errors=list(errors))

    checkable: list[Document] = []
    for d in docs:
        why = shape_error(d.obj)
        if why:
            report.errors.append(InputError(d.source, d.index, why))
            continue
        if d.obj["kind"] not in KNOWN_KINDS and d.obj["kind"] != "List":
            report.errors.append(
                InputError(d.source, d.index, f"unknown kind {d.obj['kind']!r} (still checked)")
            )
        checkable.append(d)
    report.objects = len(checkable)

    active: list[PolicyException] = []
    expired: list[PolicyException] = []
    for exc in exceptions:
        (active if exc.active(today) else expired).append(exc)
    report.expired_exceptions = [
        f"{e.metadata.name} ({e.spec.policy}, expired {e.spec.expires.isoformat()})"
        for e in expired
    ]

    params = resolved_params(config, library)
    if not checkable:
        return report
    raw, failed = _evaluate(shared_engine(engine, library.engine_key()), checkable, params)
    for doc, why in failed:
        report.errors.append(InputError(doc.source, doc.index, f"cannot be evaluated: {why}"))
    platform = set(config.spec.platformNamespaces)
    for index, policy_id, found in raw:
        if policy_id not in params:
            continue
        policy = library.get(policy_id)
        doc = checkable[index]
        meta = doc.obj.get("metadata") or {}
        namespace = meta.get("namespace", "") or ""
        if policy.scope == "tenant":
            # Tenant rules skip platform namespaces (a Namespace object is judged by its name).
            ns_of_object = meta.get("name", "") if doc.obj["kind"] == "Namespace" else namespace
            if ns_of_object in platform:
                continue
        value = found.get("value")
        message = found["msg"] if value in (None, "") else f"{found['msg']}: {value}"
        v = Violation(
            policy_id=policy_id,
            severity=policy.severity,
            title=policy.title,
            kind=doc.obj["kind"],
            namespace=namespace,
            name=meta.get("name", "") or "",
            container=found.get("container", ""),
            path=format_path(found["path"]),
            message=message,
            hint=policy.remediation,
            source=doc.source,
            document=doc.index,
            image=found.get("image", ""),
        )
        waiver = next((e for e in active if exception_matches(e, v)), None)
        if waiver is not None:
            report.waived.append(replace(v, excepted_by=waiver.metadata.name))
        else:
            report.violations.append(v)
    return report


def check_objects(
    objects: list[dict[str, Any]],
    *,
    config: PolicyConfig | None = None,
    exceptions: Iterable[PolicyException] = (),
    engine: str = "regorus",
    today: dt.date | None = None,
) -> CheckReport:
    """Check in-memory objects; `List` kinds are expanded. Objects are named ``<input>[i]``."""
    docs: list[Document] = []
    for i, obj in enumerate(objects):
        if (
            isinstance(obj, dict)
            and obj.get("kind") == "List"
            and isinstance(obj.get("items"), list)
        ):
            docs.extend(
                Document(f"<input>[{i}].items", j, item) for j, item in enumerate(obj["items"])
            )
        else:
            docs.append(Document("<input>", i, obj))
    return check_documents(docs, config=config, exceptions=exceptions, engine=engine, today=today)
