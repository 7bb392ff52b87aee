"""Thin adapters over the POLICY and TENANCY libraries: their results, as plain JSON for the API.

Imports are lazy so that the service module imports fast and a missing optional piece is an
error on the route that needs it, not at start-up.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from riskgrid.service.schemas import PolicyViolation

T = TypeVar("T")

# The policy engine (regorus) is a thread-bound native object: created and used on one thread
# only. Request handlers run on a pool of threads, so every policy evaluation goes through
# this single thread instead (it also serialises evaluation, which the engine needs anyway).
_POLICY_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskgrid-policy")


def on_policy_thread(fn: Callable[[], T]) -> T:
    return _POLICY_THREAD.submit(fn).result()


def to_jsonable(obj: Any) -> Any:
    """Pydantic models, dataclasses, enums, sets and tuples → JSON-compatible values."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in obj]
        return sorted(items, key=str) if isinstance(obj, set | frozenset) else items
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


def violation(v: Any) -> PolicyViolation:
    def get(name: str) -> Any:
        value = v.get(name) if isinstance(v, dict) else getattr(v, name, None)
        if isinstance(value, enum.Enum):
            value = value.value
        return None if value is None else str(value)

    return PolicyViolation(
        policy_id=get("policy_id") or "unknown",
        severity=get("severity"),
        message=get("message") or "",
        hint=get("hint"),
        path=get("path"),
        kind=get("kind"),
        name=get("name"),
        namespace=get("namespace"),
        container=get("container"),
    )


def admit(job: Any, tenant: Any, *, cells: int | None = None) -> list[PolicyViolation]:
    from riskgrid.policy.admission import admit_job

    return [violation(v) for v in on_policy_thread(lambda: admit_job(job, tenant, cells=cells))]


def check(objects: list[dict[str, Any]]) -> tuple[list[PolicyViolation], list[str]]:
    from riskgrid.policy.check import check_objects

    report = on_policy_thread(lambda: check_objects(objects))
    errors = [str(e) for e in getattr(report, "errors", [])]
    return [violation(v) for v in report.violations], errors


def render(tenant: Any) -> list[dict[str, Any]]:
    from riskgrid.tenancy.render import render_tenant

    return [to_jsonable(o) for o in render_tenant(tenant)]


def verify(tenant: Any, others: Sequence[Any] = ()) -> tuple[bool, dict[str, Any]]:
    """Prove the tenant's bundle with the platform bundle it relies on (the isolation tier, the
    metadata guard) and the ``others`` tenants, through the same
    :func:`riskgrid.tenancy.proven.prove` every apply path calls.

    The report returned holds only problems of objects in this tenant's namespace or owned by
    it, so it never describes another tenant's objects; when the proof failed only because of
    them, it says so without naming them.
    """
    from riskgrid.tenancy.proven import NotProven, prove

    def run() -> Any:
        try:
            return prove([*others, tenant])[1]
        except NotProven as exc:
            return exc.report

    report = on_policy_thread(run)
    data = to_jsonable(report.to_dict())
    if others:
        mine = (f"{tenant.namespace}/", f"/{tenant.namespace}/")
        problems = [p for p in data["problems"] if any(m in p["object"] for m in mine)]
        hidden = len(data["problems"]) - len(problems)
        data = {"ok": report.ok, "objects": None, "checks": data["checks"], "problems": problems}
        if hidden:
            data["other"] = f"{hidden} problems in objects of other tenants or the platform"
    return bool(report.ok), data


def verify_images(gate: Any, tenant: Any) -> list[Any]:
    """The image gate's decisions for the images the tenant's jobs run on (its Ray image)."""
    from riskgrid.supply.setup import verify_tenant

    return verify_tenant(gate, tenant)
