"""Policy audit of what exists: the Rego library over every object of a snapshot.

Pods are judged with their owning controller (D-#16.4): a Pod whose controller chain
(Pod → ReplicaSet → Deployment, Pod → Job → CronJob, Pod → StatefulSet…) ends at an object
in the snapshot is reported once, against that top controller. The running pods are still
evaluated — admission webhooks can mutate them away from the template — and a finding on a pod
that the controller does not already have is reported against the controller with the pod
named. Pods with the same spec (replicas of one template) are evaluated once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from riskgrid.cluster.snapshot import Snapshot, object_ref
from riskgrid.policy.check import Document, check_documents
from riskgrid.policy.config import PolicyConfig
from riskgrid.policy.report import CheckReport, InputError, Violation
from riskgrid.spec.exceptions import PolicyException

#: Kinds whose objects are created by a controller and judged through it.
_CONTROLLED = frozenset({"Pod", "ReplicaSet", "Job"})


@dataclass
class AuditResult:
    report: CheckReport
    #: object ref → the controller it was folded into.
    folded: dict[str, str] = field(default_factory=dict)
    partial_banner: str = ""
    #: refs of every object evaluated or folded (PolicyReport "pass" results need them).
    objects: list[dict[str, Any]] = field(default_factory=list)


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def controller_of(obj: dict[str, Any], index: dict[tuple[str, str, str], dict]) -> dict | None:
    """The object's top controller present in ``index`` (None: it is judged on its own)."""
    seen: set[tuple[str, str, str]] = set()
    top: dict[str, Any] | None = None
    current = obj
    while True:
        meta = current.get("metadata") or {}
        owner = next(
            (
                o
                for o in meta.get("ownerReferences") or []
                if isinstance(o, dict) and o.get("controller")
            ),
            None,
        )
        if owner is None:
            return top
        key = (str(owner.get("kind")), str(meta.get("namespace") or ""), str(owner.get("name")))
        parent = index.get(key)
        if parent is None or key in seen:
            return top
        uid = (parent.get("metadata") or {}).get("uid")
        if uid and owner.get("uid") and uid != owner.get("uid"):
            return top  # same name, another object (recreated): not this pod's owner
        seen.add(key)
        top = current = parent


def _spec_key(obj: dict[str, Any]) -> str:
    """Pods that differ only by name/uid/status are the same to every policy."""
    meta = obj.get("metadata") or {}
    same = {
        "ns": meta.get("namespace"),
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "spec": obj.get("spec"),
    }
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()


def audit_snapshot(
    snap: Snapshot,
    *,
    config: PolicyConfig | None = None,
    exceptions: Iterable[PolicyException] = (),
    engine: str = "regorus",
    today: dt.date | None = None,
) -> AuditResult:
    index = {_key(so.obj): so.obj for so in snap.objects}
    folded: dict[str, str] = {}
    docs: list[Document] = []
    owner_of_doc: list[dict[str, Any] | None] = []
    pod_reps: dict[str, int] = {}  # spec key → index of the doc that stands for them
    for so in snap.objects:
        top = controller_of(so.obj, index) if so.obj.get("kind") in _CONTROLLED else None
        if top is not None:
            folded[so.ref] = object_ref(top)
        if so.obj.get("kind") == "Pod" and top is not None:
            # Replicas of one controller with identical specs: evaluate one, report against
            # the controller (bare pods are each reported, so never merged).
            k = f"{id(top)}:{_spec_key(so.obj)}"
            if k in pod_reps:
                continue
            pod_reps[k] = len(docs)
        docs.append(Document(so.source, so.index, _strip_status(so.obj)))
        owner_of_doc.append(top)
    errors = [InputError(p.source, 0, f"{_loc(p)}{p.message}") for p in snap.problems]
    report = check_documents(
        docs, config=config, exceptions=exceptions, engine=engine, today=today, errors=errors
    )
    report = _fold(report, docs, owner_of_doc)
    return AuditResult(report, folded, snap.banner(), [d.obj for d in docs])


def _loc(p: Any) -> str:
    from riskgrid.spec.errors import format_loc

    where = format_loc(p.loc)
    return f"{where}: " if where else ""


def _strip_status(obj: dict[str, Any]) -> dict[str, Any]:
    # Policies judge desired state; status is the server's and large on pods.
    return {k: v for k, v in obj.items() if k != "status"}


def _fold(
    report: CheckReport, docs: list[Document], owners: list[dict[str, Any] | None]
) -> CheckReport:
    """Move findings of controlled objects onto their top controller, once each."""
    by_doc = {(d.source, d.index): i for i, d in enumerate(docs)}

    def fold_list(items: list[Violation]) -> list[Violation]:
        out: list[Violation] = []
        on_controller: set[tuple[str, str, str, str]] = set()
        for v in items:
            if owners[by_doc[(v.source, v.document)]] is None:
                out.append(v)
                on_controller.add((v.object_ref, v.policy_id, v.container, v.message))
        for v in items:
            top = owners[by_doc[(v.source, v.document)]]
            if top is None:
                continue
            kind, ns, name = _key(top)
            ref = f"{kind}/{ns + '/' if ns else ''}{name}"
            key = (ref, v.policy_id, v.container, v.message)
            if key in on_controller:
                continue
            on_controller.add(key)
            out.append(
                replace(
                    v,
                    kind=kind,
                    namespace=ns,
                    name=name,
                    message=f"{v.message} (seen in running {v.object_ref})",
                )
            )
        return out

    report.violations = fold_list(report.violations)
    report.waived = fold_list(report.waived)
    return report
