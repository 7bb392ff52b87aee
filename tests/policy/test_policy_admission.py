"""Job-submission admission (`admit_job`): ownership labels, the tenant claim, and job size
against the tenant's memory quota — on the real RiskJob and Tenant models."""

from __future__ import annotations

from pathlib import Path

from riskgrid.policy.admission import BYTES_PER_CELL, admit_job
from riskgrid.spec.job import load_job
from riskgrid.spec.tenant import load_tenant

REPO = Path(__file__).resolve().parents[2]
LABELS = {"riskgrid.dev/tenant": "rates", "riskgrid.dev/cost-centre": "cc-4711"}


def _job(labels: dict[str, str]):
    job = load_job(REPO / "examples/jobs/small.yaml").job
    meta = job.metadata.model_copy(update={"labels": labels})
    return job.model_copy(update={"metadata": meta})


def _tenant():
    return load_tenant(REPO / "examples/tenants/rates.yaml")


def test_clean_job_is_admitted():
    assert admit_job(_job(LABELS), _tenant(), cells=1000) == []


def test_missing_label_is_rejected():
    out = admit_job(_job({"riskgrid.dev/tenant": "rates"}), _tenant())
    assert [(v.policy_id, v.path) for v in out] == [
        ("RG-GOV-001", "metadata.labels.riskgrid.dev/cost-centre")
    ]
    out = admit_job(_job({}), _tenant())
    assert sorted(v.path for v in out) == [
        "metadata.labels.riskgrid.dev/cost-centre",
        "metadata.labels.riskgrid.dev/tenant",
    ]


def test_job_labelled_for_another_tenant_is_rejected():
    out = admit_job(_job({**LABELS, "riskgrid.dev/tenant": "eq-vol"}), _tenant())
    assert [v.policy_id for v in out] == ["RG-ADM-001"]
    assert "'eq-vol'" in out[0].message and "'rates'" in out[0].message


def test_job_larger_than_the_tenant_memory_quota_is_rejected():
    tenant = _tenant()
    from riskgrid.spec.tenant import parse_quantity

    quota_cells = int(parse_quantity(tenant.spec.quotas.memory)) // BYTES_PER_CELL
    assert admit_job(_job(LABELS), tenant, cells=quota_cells) == []
    out = admit_job(_job(LABELS), tenant, cells=quota_cells + 1)
    assert [v.policy_id for v in out] == ["RG-ADM-002"]
    assert "memory quota" in out[0].message
