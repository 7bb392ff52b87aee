"""Metric arithmetic on the miniature model, against answers computed by hand.

Hand computation (scales: minimal 0.25, partial 0.5, significant 0.75; detective weight 0.5):

- TM-001 L4×I5 = 20 (critical): C-PRE-A significant, C-DET-A partial, both verified.
  L' = 4·(1−0.75) = 1; I' = 5·(1−0.5·0.5) = 3.75; residual 3.75 (design the same).
- TM-002 L3×I4 = 12 (high): C-PRE-B (test fails) partial, C-PLAN (planned) significant.
  verified residual 12; design L' = 3·0.5·0.25 = 0.375, residual 0.375·4 = 1.5.
- TM-003 L2×I2 = 4 (low): C-PRE-A minimal → L' = 1.5, residual 3.0.
- TM-004 L1×I3 = 3 (low): no controls, residual 3.
Totals: inherent 39, verified 21.75, design 11.25, gap 10.5.
Preventive coverage 2/4; defence in depth 1/2 (TM-001 spans admission+monitoring, TM-002 none).
ATT&CK covered: T1611, T1078.001 and its parent T1078 → 3/5; Microsoft: MS-TA9013 → 1/3.
"""

from __future__ import annotations

from datetime import date

import pytest

from riskgrid.threats.metrics import ExceptionRecord, compute, severity
from riskgrid.threats.validate import Validated, validate

VERIFIED = {"C-PRE-A", "C-DET-A"}
TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def validated(mini_verified) -> Validated:
    repo, _ = mini_verified
    return validate(repo / "threatmodel", repo_root=repo)


def _compute(v: Validated, verified=VERIFIED, **kw):
    return compute(v.model, verified, v.taxonomies, today=TODAY, **kw)


def test_residual_risk_per_threat(validated):
    scores = {s.threat: s for s in _compute(validated).threats}
    assert {t: (s.inherent, s.severity) for t, s in scores.items()} == {
        "TM-001": (20, "critical"),
        "TM-002": (12, "high"),
        "TM-003": (4, "low"),
        "TM-004": (3, "low"),
    }
    assert scores["TM-001"].residual_verified == pytest.approx(3.75)
    assert scores["TM-001"].residual_design == pytest.approx(3.75)
    assert scores["TM-002"].residual_verified == pytest.approx(12.0)
    assert scores["TM-002"].residual_design == pytest.approx(1.5)
    assert scores["TM-003"].residual_verified == pytest.approx(3.0)
    assert scores["TM-004"].residual_verified == pytest.approx(3.0)
    assert scores["TM-001"].verified_layers == ("admission", "monitoring")


def test_totals_and_assurance_gap(validated):
    m = _compute(validated)
    assert m.inherent_total == 39
    assert m.residual_verified_total == pytest.approx(21.75)
    assert m.residual_design_total == pytest.approx(11.25)
    assert m.assurance_gap == pytest.approx(10.5)


def test_coverage_and_defence_in_depth(validated):
    m = _compute(validated)
    assert m.preventive_coverage == pytest.approx(0.5)
    assert m.high_critical == 2
    assert m.defence_in_depth == pytest.approx(0.5)
    assert (m.attack.covered, m.attack.total, m.attack.referenced) == (3, 5, 5)
    assert m.attack.uncovered == ("T1552", "T1552.005")
    assert (m.ms_k8s.covered, m.ms_k8s.total) == (1, 3)
    assert m.controls_verified == 2 and m.controls_implemented == 3


def test_nothing_verified_means_residual_equals_inherent(validated):
    m = _compute(validated, verified=set())
    assert m.residual_verified_total == m.inherent_total == 39
    assert m.preventive_coverage == 0 and m.defence_in_depth == 0
    assert m.attack.covered == 0
    assert all(m.goals_reachable.values())


def test_every_control_verified_closes_the_gap(validated):
    everything = {c.id for c in validated.model.controls}
    m = _compute(validated, verified=everything)
    assert m.assurance_gap == pytest.approx(0.0)
    assert m.preventive_coverage == pytest.approx(0.75)  # TM-004 has no control at all


def test_attack_tree_reachability(validated):
    # AT-ONE: OR(AND(TM-002, TM-004), TM-003): the AND branch is open → reachable.
    # AT-TWO: AND(TM-001, TM-002): TM-001 is cut → the goal is cut.
    assert _compute(validated).goals_reachable == {"AT-ONE": True, "AT-TWO": False}
    # Cutting TM-002 as well cuts AT-ONE's AND branch; TM-003 is already cut → OR cut.
    m = _compute(validated, verified=VERIFIED | {"C-PRE-B"})
    assert m.goals_reachable == {"AT-ONE": False, "AT-TWO": False}


def test_isolation_pass_rate_counts_not_run_as_failure(validated):
    m = _compute(validated, isolation_outcomes=["passed", "failed", "not-run", "passed"])
    assert (m.isolation_passed, m.isolation_total) == (2, 4)
    assert m.isolation_pass_rate == pytest.approx(0.5)
    assert _compute(validated).isolation_pass_rate == 0.0


def test_exceptions_in_force_and_expiring(validated):
    records = [
        ExceptionRecord("expired", ("RG-1",), date(2026, 11, 25), "x"),
        ExceptionRecord("today", ("RG-1",), TODAY, "x"),
        ExceptionRecord("edge", ("RG-2",), date(2026, 12, 26), "x"),  # exactly 30 days
        ExceptionRecord("later", ("RG-2",), date(2026, 12, 27), "x"),
    ]
    m = _compute(validated, exceptions=records)
    assert (m.exceptions_in_force, m.exceptions_expiring) == (3, 2)


@pytest.mark.parametrize(
    ("score", "band"),
    [(1, "low"), (4, "low"), (5, "medium"), (9, "medium"), (10, "high"), (16, "high"),
     (17, "critical"), (25, "critical")],
)  # fmt: skip
def test_severity_bands(score, band):
    assert severity(score) == band


def test_exception_register_is_read_and_validated(mini):
    from riskgrid.spec.errors import SpecError
    from riskgrid.threats.exceptions import read_exceptions

    records = read_exceptions([mini / "exceptions", mini / "no-such-folder"])
    assert [(r.name, r.policies, r.expires.isoformat()) for r in records] == [
        ("soon", ("RG-PSS-001",), "2026-12-01"),
        ("later", ("RG-PSS-002",), "2027-06-01"),
        ("expired", ("RG-PSS-001",), "2026-10-01"),
    ]
    bad = mini / "exceptions" / "bad.yaml"
    bad.write_text(
        "apiVersion: riskgrid.dev/v1alpha1\nkind: PolicyException\nmetadata: {name: x}\n"
        "spec: {policy: RG-PSS-001, scope: {namespace: a}, justification: too short}\n"
    )
    with pytest.raises(SpecError) as exc:
        read_exceptions([mini / "exceptions"])
    text = str(exc.value)
    assert str(bad) in text and "spec.expires" in text and "spec.approver" in text
