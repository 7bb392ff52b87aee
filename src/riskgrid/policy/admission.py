"""Job-submission admission: the checks the service runs before a RiskJob is queued.

Deliberately small and documented (docs/policy.md), and tied to the fields a ``RiskJob`` and a
``Tenant`` really have:

1. the job carries the ownership labels RG-GOV-001 requires (the same parameters the Rego
   policy uses, so a ``PolicyConfig`` that changes the label set changes both);
2. the job's ``riskgrid.dev/tenant`` label names the tenant it is submitted to (RG-ADM-001): a
   job cannot be filed under, or billed to, another desk;
3. the job fits the tenant: its positions × scenarios matrix (float64, held by the driver)
   must fit in the tenant's memory quota (RG-ADM-002) — the "one tenant starves the others"
   threat, stopped before any work starts;
4. label keys under a reserved prefix (``riskgrid.dev``, ``kubernetes.io``, ``k8s.io``, in
   any letter case) are only the platform's ownership labels, spelled exactly (RG-ADM-003):
   label keys are case-sensitive, so ``riskgrid.dev/Tenant`` is another key that a
   case-insensitive reader could mistake for the tenant label.

Submitted jobs name no container images: the tenant's Ray image is fixed by its spec, checked
by the image policies when the bundle is rendered and, when the server has a trust policy, by
the image supply-chain gate on every submission (``riskgrid.supply``, the service's
``routes_jobs``), so there is no image check here.
"""

from __future__ import annotations

from typing import Any

from riskgrid.policy.config import PolicyConfig, default_config
from riskgrid.policy.library import load_library
from riskgrid.policy.report import Violation

TENANT_LABEL = "riskgrid.dev/tenant"
#: Label-key prefixes owned by the platform or Kubernetes; compared case-insensitively, so
#: ``RiskGrid.dev/tenant`` cannot pose as (or next to) the real key.
RESERVED_PREFIXES = ("riskgrid.dev", "kubernetes.io", "k8s.io")


def _reserved(key: str) -> bool:
    prefix = key.split("/", 1)[0].lower() if "/" in key else ""
    return any(prefix == p or prefix.endswith("." + p) for p in RESERVED_PREFIXES)


# Bytes the driver holds per matrix cell: the float64 matrix plus the grouped copies.
BYTES_PER_CELL = 8 * 3


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


def admit_job(
    job: Any,
    tenant: Any = None,
    *,
    config: PolicyConfig | None = None,
    cells: int | None = None,
) -> list[Violation]:
    """Violations that block submission of ``job`` to ``tenant`` (empty list: admitted).

    ``cells`` is the job's positions × scenarios count once its inputs are loaded; without it
    the size check is skipped.
    """
    doc = _as_dict(job)
    config = config or default_config()
    library = load_library()
    out: list[Violation] = []

    labels = _get(doc, "metadata", "labels") or {}
    if not isinstance(labels, dict):
        labels = {}
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

    # Label keys are case-sensitive: the only reserved-prefix keys a job may carry are the
    # platform's own ownership labels, spelled exactly (RG-ADM-003).
    permitted = {TENANT_LABEL, *gov.params(config.spec.parameters.get(gov.id))["labels"]}
    for key in labels if isinstance(labels, dict) else {}:
        if isinstance(key, str) and _reserved(key) and key not in permitted:
            out.append(
                _violation(
                    doc,
                    "RG-ADM-003",
                    f"metadata.labels.{key}",
                    f"label key {key!r} uses a reserved prefix (riskgrid.dev, kubernetes.io, "
                    "k8s.io, in any case); only "
                    + ", ".join(sorted(permitted))
                    + " may be set, spelled exactly",
                    "Remove the label, or use a key with your own prefix.",
                )
            )

    tenant_doc = _as_dict(tenant)
    tenant_name = _get(tenant_doc, "metadata", "name")
    claimed = labels.get(TENANT_LABEL)
    if tenant_name and claimed and claimed != tenant_name:
        out.append(
            _violation(
                doc,
                "RG-ADM-001",
                f"metadata.labels.{TENANT_LABEL}",
                f"job is labelled for tenant {claimed!r} but submitted to {tenant_name!r}",
                "Submit the job to the tenant it belongs to, or fix its tenant label.",
            )
        )

    memory = _get(tenant_doc, "spec", "quotas", "memory")
    if cells is not None and memory is not None:
        from riskgrid.spec.tenant import parse_quantity

        need = cells * BYTES_PER_CELL
        quota = int(parse_quantity(memory))
        if need > quota:
            out.append(
                _violation(
                    doc,
                    "RG-ADM-002",
                    "spec",
                    f"job needs about {need / 2**30:.1f} GiB for its {cells:,} "
                    f"position×scenario cells; the tenant's memory quota is {memory}",
                    "Split the portfolio or shorten the scenario window, or ask the platform "
                    "team to raise the tenant's memory quota.",
                )
            )
    return out
