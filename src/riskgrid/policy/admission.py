"""Job-submission admission: the checks the service runs before a RiskJob is queued.

Deliberately small and documented (docs/policy.md): the job must carry the ownership labels
RG-GOV-001 requires; any container image the job names (``spec.image`` or
``spec.engine.image``/``spec.ray.image`` where present) must pass the image policies
(RG-IMG-001..004, evaluated by the same Rego through a synthetic Pod); and any resource ask
(workers, cpu, memory in GiB) must stay within the tenant's bounds when the tenant states them.
"""

from __future__ import annotations

from typing import Any

from riskgrid.policy.cases import HARDENED_POD, merge
from riskgrid.policy.check import check_objects
from riskgrid.policy.config import PolicyConfig, default_config
from riskgrid.policy.library import load_library
from riskgrid.policy.report import Violation

IMAGE_POLICIES = ("RG-IMG-001", "RG-IMG-002", "RG-IMG-003", "RG-IMG-004")
DEFAULT_MAX_WORKERS = 256


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    return dump(by_alias=True, mode="json") if dump else {}


def _get(d: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)  # type: ignore[assignment]
    return d


def _violation(
    job: dict[str, Any], policy_id: str, path: str, message: str, hint: str
) -> Violation:
    meta = job.get("metadata") or {}
    return Violation(
        policy_id=policy_id,
        severity="high",
        title="job admission",
        kind=job.get("kind", "RiskJob"),
        namespace=meta.get("namespace", "") or "",
        name=meta.get("name", "") or "",
        container="",
        path=path,
        message=message,
        hint=hint,
    )


def job_images(job: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, image) of every image the job names."""
    out = []
    for path in (("spec", "image"), ("spec", "engine", "image"), ("spec", "ray", "image")):
        image = _get(job, *path)
        if isinstance(image, str) and image:
            out.append((".".join(path), image))
    return out


def admit_job(
    job: Any, tenant: Any = None, *, config: PolicyConfig | None = None
) -> list[Violation]:
    """Violations that block submission of ``job`` (empty list: admitted)."""
    doc = _as_dict(job)
    config = config or default_config()
    library = load_library()
    out: list[Violation] = []

    labels = _get(doc, "metadata", "labels") or {}
    gov = library.get("RG-GOV-001")
    for key in gov.params(config.spec.parameters.get(gov.id))["labels"]:
        if not labels.get(key):
            out.append(
                _violation(
                    doc,
                    gov.id,
                    f"metadata.labels.{key}",
                    "job is missing a required label",
                    gov.remediation,
                )
            )

    images = job_images(doc)
    if images:
        pod = merge(HARDENED_POD, {})
        pod["containers"] = [
            {**pod["containers"][0], "name": f"image-{i}", "image": image}
            for i, (_, image) in enumerate(images)
        ]
        probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "admission"}, "spec": pod}
        report = check_objects([probe], config=config)
        for v in report.violations:
            if v.policy_id in IMAGE_POLICIES:
                index = int(v.container.removeprefix("image-"))
                out.append(_violation(doc, v.policy_id, images[index][0], v.message, v.hint))

    bounds = _get(_as_dict(tenant), "spec", "limits") or {}
    workers = _get(doc, "spec", "engine", "workers") or _get(doc, "spec", "workers")
    max_workers = bounds.get("maxWorkers", DEFAULT_MAX_WORKERS)
    if isinstance(workers, int) and workers > max_workers:
        out.append(
            _violation(
                doc,
                "RG-ADM-001",
                "spec.engine.workers",
                f"job asks for {workers} workers, the tenant allows {max_workers}",
                "Lower the worker count or ask the platform team to raise the tenant limit.",
            )
        )
    return out
