"""Job-submission admission (`admit_job`): labels, images through the Rego image policies,
worker bounds from the tenant."""

from __future__ import annotations

from riskgrid.policy.admission import admit_job
from riskgrid.policy.cases import DIGEST

LABELS = {"riskgrid.dev/tenant": "rates", "riskgrid.dev/cost-centre": "cc-4711"}
GOOD_IMAGE = f"registry.riskgrid.example/riskgrid/pricer:1.4.2@{DIGEST}"


def job(labels=LABELS, **spec):
    return {"apiVersion": "riskgrid.dev/v1alpha1", "kind": "RiskJob",
            "metadata": {"name": "eod-var", "labels": labels}, "spec": spec}  # fmt: skip


def test_clean_job_is_admitted():
    assert admit_job(job(engine={"image": GOOD_IMAGE, "workers": 16})) == []
    assert admit_job(job()) == []  # no image named: nothing to check


def test_missing_label_is_rejected():
    out = admit_job(job(labels={"riskgrid.dev/tenant": "rates"}))
    assert [(v.policy_id, v.path) for v in out] == [
        ("RG-GOV-001", "metadata.labels.riskgrid.dev/cost-centre")
    ]


def test_image_from_look_alike_registry_and_latest_are_rejected():
    out = admit_job(job(engine={"image": "registry.riskgrid.example.evil.io/riskgrid/p:latest"}))
    assert {v.policy_id for v in out} == {"RG-IMG-001", "RG-IMG-003", "RG-IMG-004"}
    assert {v.path for v in out} == {"spec.engine.image"}


def test_worker_bound_from_tenant():
    tenant = {"spec": {"limits": {"maxWorkers": 8}}}
    out = admit_job(job(engine={"workers": 32}), tenant)
    assert [v.policy_id for v in out] == ["RG-ADM-001"]
    assert admit_job(job(engine={"workers": 8}), tenant) == []
