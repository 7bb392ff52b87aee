"""Drift: the live objects against the bundles riskgrid would render now (the platform
bundle and every tenant's; Gatekeeper objects, which a snapshot does not read, are listed as
not compared).

Objects are matched by (apiVersion group, kind, namespace, name). *Missing*: rendered, not
live. *Changed*: both, with a field-level diff of everything the renderer sets, ignoring what
the API server sets (``metadata.uid``/``resourceVersion``/``generation``/
``creationTimestamp``/``managedFields``, ``status``) and fields the live object has that the
rendering leaves unset (server defaults such as ``spec.template.spec.dnsPolicy``); a changed
or removed label/annotation/field the rendering sets is drift. *Extra*: live objects in a
tenant's namespaces, or carrying the riskgrid managed-by label, that no bundle renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from riskgrid.cluster.resources import KNOWN
from riskgrid.cluster.snapshot import Snapshot, object_ref
from riskgrid.spec.tenant import Tenant
from riskgrid.tenancy import constants as c

SERVER_META = frozenset(
    {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"}
)
#: Controller-made objects (pods, replica sets…) and API-server-made ones are never "extra".
_NOT_RENDERED_KINDS = frozenset(
    {"Pod", "ReplicaSet", "Job", "Endpoints", "EndpointSlice", "Event", "ControllerRevision"}
)
_DEFAULT_OBJECTS = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}


@dataclass(frozen=True)
class FieldChange:
    path: str
    rendered: Any
    live: Any

    def __str__(self) -> str:
        return f"{self.path}: rendered {self.rendered!r}, live {self.live!r}"


@dataclass
class DriftReport:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)
    #: Rendered objects of kinds a snapshot does not hold (Gatekeeper templates/constraints).
    not_compared: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "missing": self.missing,
            "extra": self.extra,
            "notCompared": self.not_compared,
            "changed": {
                ref: [{"path": f.path, "rendered": f.rendered, "live": f.live} for f in changes]
                for ref, changes in self.changed.items()
            },
        }


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    group = (
        str(obj.get("apiVersion", "")).rsplit("/", 1)[0]
        if "/" in str(obj.get("apiVersion", ""))
        else ""
    )
    return (group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def _diff(rendered: Any, live: Any, path: str, out: list[FieldChange]) -> None:
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            out.append(FieldChange(path or ".", rendered, live))
            return
        for k, v in rendered.items():
            if path == "metadata" and k in SERVER_META:
                continue
            sub = f"{path}.{k}" if path else str(k)
            if k not in live:
                out.append(FieldChange(sub, v, None))
            else:
                _diff(v, live[k], sub, out)
        return
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            out.append(FieldChange(path, rendered, live))
            return
        for i, (a, b) in enumerate(zip(rendered, live, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
        return
    if rendered != live and not _same_scalar(rendered, live):
        out.append(FieldChange(path, rendered, live))


def _same_scalar(a: Any, b: Any) -> bool:
    # Quantities and ports come back from the server as strings/ints interchangeably.
    return str(a) == str(b)


def field_changes(rendered: dict[str, Any], live: dict[str, Any]) -> list[FieldChange]:
    body = {k: v for k, v in rendered.items() if k != "status"}
    out: list[FieldChange] = []
    _diff(body, live, "", out)
    return out


def drift(
    snap: Snapshot, rendered: Sequence[dict[str, Any]], tenants: Sequence[Tenant]
) -> DriftReport:
    live = {_key(so.obj): so.obj for so in snap.objects}
    report = DriftReport()
    want: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for o in rendered:
        if (str(o.get("apiVersion")), str(o.get("kind"))) in KNOWN:
            want[_key(o)] = o
        else:
            report.not_compared.append(object_ref(o))
    for key, obj in want.items():
        if key not in live:
            report.missing.append(object_ref(obj))
            continue
        changes = field_changes(obj, live[key])
        if changes:
            report.changed[object_ref(obj)] = changes
    tenant_ns = {t.namespace for t in tenants}
    for key, obj in live.items():
        if key in want or key[1] in _NOT_RENDERED_KINDS or (key[1], key[3]) in _DEFAULT_OBJECTS:
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        managed = labels.get(c.MANAGED_BY_LABEL) == c.MANAGED_BY
        owners = {t.name for t in tenants} | {c.PLATFORM_TENANT}
        if key[2] in tenant_ns or (managed and labels.get(c.TENANT_LABEL) in owners):
            report.extra.append(object_ref(obj))
    report.missing.sort()
    report.extra.sort()
    return report
